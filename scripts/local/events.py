"""`make run`'s events: poll the local table's stream (moto's DynamoDB Streams) in the API's own
process, the way Lambda's mapping does in AWS, and hand each batch to the same consumer
(``app.deliver_stream_records``) when OTP_EVENTS_URL is set; without it, keep the events for
the page's inbox panel (``/dev/events.json``), so a developer sees what their backend would get.

Started by scripts/local/serve.py ``--events`` (scripts/local/run_local.py passes it). A batch a receiver
refused is read again from the refused record after RETRY_SECONDS, as the mapping retries it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger("verify")
POLL_SECONDS = 0.5
RETRY_SECONDS = 2.0


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record from GetRecords in the shape Lambda hands a function
    (docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): ``ApproximateCreationDateTime`` in
    Unix seconds (boto3 parses it into a datetime) and ``eventSourceARN``."""
    ddb = dict(record["dynamodb"])
    stamp: Any = ddb.get("ApproximateCreationDateTime")
    if hasattr(stamp, "timestamp"):
        ddb["ApproximateCreationDateTime"] = int(stamp.timestamp())
    return {**record, "dynamodb": ddb, "eventSourceARN": stream_arn}


def streams_client(endpoint: str | None) -> Any:
    """botocore sends DynamoDB Streams calls to an account-based endpoint
    (<account>.streams-ddb.<region>.amazonaws.com) unless told not to; moto serves the plain one."""
    import boto3
    from botocore.config import Config

    return boto3.client("dynamodbstreams", endpoint_url=endpoint,
                        config=Config(account_id_endpoint_mode="disabled"))


class LocalStream(threading.Thread):
    def __init__(self, table: str, endpoint: str | None, consume: Callable[[list[dict]], dict]) -> None:
        super().__init__(daemon=True, name="local-events")
        import boto3

        self._dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
        self._streams = streams_client(endpoint)
        self._table = table
        self._consume = consume
        self._after: dict[str, str] = {}  # shard -> the last sequence number taken
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                pause = self.poll()
            except Exception as exc:  # noqa: BLE001 - a dev loop: say it and keep polling
                log.warning("local events: %s", exc)
                pause = RETRY_SECONDS
            self.stopped.wait(pause)

    def poll(self) -> float:
        """Read what is new, hand it on; the seconds to wait before the next poll."""
        arn = self._dynamodb.describe_table(TableName=self._table)["Table"].get("LatestStreamArn")
        if not arn:
            return RETRY_SECONDS
        for shard in self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            after = self._after.get(shard_id)
            position = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after
                        else {"ShardIteratorType": "TRIM_HORIZON"})
            iterator = self._streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, **position)
            got = self._streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
            records = [lambda_record(r, arn) for r in got]
            if not records:
                continue
            answer = self._consume(records) or {}
            failed = [int(f["itemIdentifier"]) for f in answer.get("batchItemFailures", [])]
            taken = [r for r in records if not failed or int(r["dynamodb"]["SequenceNumber"]) < min(failed)]
            if taken:
                self._after[shard_id] = taken[-1]["dynamodb"]["SequenceNumber"]
            if failed:
                return RETRY_SECONDS
        return POLL_SECONDS


def start(table: str, endpoint: str | None) -> LocalStream:
    """Poll ``table``'s stream: deliver to OTP_EVENTS_URL when set, else keep for the page;
    with OTP_TWILIO_WEBHOOKS, to the v2 Services' Webhooks too."""
    import os

    from chalicelib.settings.events import stream_consumer

    if os.environ.get("OTP_EVENTS_URL"):
        import app

        stream = LocalStream(table, endpoint, app.deliver_stream_records)
        print(f"Events: the table's stream is POSTed to {os.environ['OTP_EVENTS_URL']}")
    elif stream_consumer(os.environ):
        import app
        from chalicelib.events.posting import keep_locally

        def both(records: list[dict]) -> dict:
            keep_locally(records)
            return app.deliver_stream_records(records)

        stream = LocalStream(table, endpoint, both)
        print("Events: shown in the page's inbox panel, and POSTed to the v2 Services' Webhooks")
    else:
        from chalicelib.events.posting import keep_locally

        stream = LocalStream(table, endpoint, keep_locally)
        print("Events: shown in the page's inbox panel (set OTP_EVENTS_URL to POST them)")
    stream.start()
    return stream
