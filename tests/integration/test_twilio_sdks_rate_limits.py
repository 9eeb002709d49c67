"""Issue 33's Service Rate Limits and Buckets through twilio-python and twilio-node, unchanged,
against the served API (scripts/local/serve.py) and dynalite: each resource's create, list, fetch,
update and delete, and the effect on starts: a bucket of Max=2, Interval=60 refuses the third
start with that key (429, 20429) and not a start with another key; another Service's rate
limit is 20404 from this one."""

from __future__ import annotations

import pytest

from tests.integration.conftest import unique_number
from tests.integration.test_twilio_sdks import _node, key, sdk, server  # noqa: F401 (fixtures)


def test_twilio_python_drives_rate_limits_and_buckets(server, key):  # noqa: F811
    from twilio.base.exceptions import TwilioRestException

    client = sdk(server, key)
    service = client.verify.v2.services.create(friendly_name="Limits")
    other = client.verify.v2.services.create(friendly_name="Other")
    limits = client.verify.v2.services(service.sid).rate_limits
    limit = limits.create(unique_name="end_user_ip_address", description="Per IP")
    assert limit.sid.startswith("RK") and len(limit.sid) == 34 and limit.service_sid == service.sid
    assert limits(limit.sid).update(description="Per end user IP").description == "Per end user IP"
    assert [r.unique_name for r in limits.list()] == ["end_user_ip_address"]
    assert limits(limit.sid).fetch().links["buckets"].endswith(f"/RateLimits/{limit.sid}/Buckets")
    buckets = limits(limit.sid).buckets
    bucket = buckets.create(max=5, interval=60)
    assert bucket.sid.startswith("BL") and bucket.rate_limit_sid == limit.sid
    assert buckets(bucket.sid).update(max=2).max == 2
    assert [(b.max, b.interval) for b in buckets.list()] == [(2, 60)]
    assert buckets(bucket.sid).fetch().interval == 60
    with pytest.raises(TwilioRestException) as taken:
        limits.create(unique_name="end_user_ip_address")
    assert (taken.value.status, taken.value.code) == (400, 60208)

    verify = client.verify.v2.services(service.sid).verifications
    for seed in (331, 332):
        assert verify.create(to=unique_number(seed), channel="sms",
                             rate_limits={"end_user_ip_address": "203.0.113.7"}).status == "pending"
    with pytest.raises(TwilioRestException) as refused:
        verify.create(to=unique_number(333), channel="sms", rate_limits={"end_user_ip_address": "203.0.113.7"})
    assert (refused.value.status, refused.value.code) == (429, 20429)
    assert verify.create(to=unique_number(333), channel="sms",
                         rate_limits={"end_user_ip_address": "198.51.100.1"}).status == "pending"
    with pytest.raises(TwilioRestException) as foreign:
        client.verify.v2.services(other.sid).rate_limits(limit.sid).fetch()
    assert (foreign.value.status, foreign.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as unknown:
        client.verify.v2.services(other.sid).verifications.create(
            to=unique_number(334), channel="sms", rate_limits={"end_user_ip_address": "x"})
    assert (unknown.value.status, unknown.value.code) == (400, 60200)

    assert buckets(bucket.sid).delete() is True
    assert limits(limit.sid).delete() is True
    with pytest.raises(TwilioRestException) as gone:
        limits(limit.sid).fetch()
    assert gone.value.code == 20404


def test_twilio_node_drives_rate_limits_and_buckets(server, key):  # noqa: F811
    seen = _node("twilio_node_rate_limits.js", server, key, TO1=unique_number(341), TO2=unique_number(342),
                 TO3=unique_number(343), TO4=unique_number(344))
    assert seen == {
        "created": ["RK", "end_user_ip_address", "Per IP"], "updated": "Per end user IP",
        "listed": ["end_user_ip_address"], "fetched": True, "bucket": ["BL", True, 5, 60], "bucket_updated": 2,
        "buckets": [[2, 60]], "bucket_fetched": 60, "duplicate": 60208, "starts": ["pending", "pending"],
        "third": 20429, "other_key": "pending", "foreign": 20404, "unknown_name": 60200,
        "bucket_deleted": True, "deleted": True, "gone": 20404,
    }
