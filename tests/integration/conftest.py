"""The app served over real HTTP (one process per request, as on Lambda) against dynalite,
a DynamoDB implementation that locks per item, so concurrency tests measure atomicity."""

from __future__ import annotations

import pytest

from tests.live import LiveServer, dynamodb_endpoint, live_server, serve  # noqa: F401  (fixtures)


@pytest.fixture
def dynamodb(dynamodb_endpoint: str):
    import boto3

    return boto3.client("dynamodb", endpoint_url=dynamodb_endpoint)


def unique_number(seed: int) -> str:
    """A valid US number per seed, each in its own prefix, so tests do not share items or
    prefix counters (dynalite starts empty for every run)."""
    return f"+1415{200 + seed % 800:03d}{seed // 800 % 10}000"
