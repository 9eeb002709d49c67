"""One mailbox, one set of limits (issue 28, items 5 and 11): an address is keyed on its
mailbox (chalicelib/channels/email_address.py's MAILBOX_RULES), so respelling it (case, +tags, Gmail's
dots) is a resend of the same verification, never a new one; and a domain whose labels mix
scripts (a Cyrillic 'а' in gmail.com) is refused. Sends are counted in moto's SES, which
records what SendEmail accepted (tests/unit/test_email_ses.py)."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.errors import InvalidEmailAddress
from tests.conftest import last_code
from tests.unit.helpers import check, delete, error_code, get, post, start
from tests.unit.test_email_ses import FROM, SES, code_in, sent
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

MANY_IPS = {"OTP_MAX_REQUESTS_PER_IP_PER_HOUR": "1000"}  # the attacker's many addresses


@pytest.fixture
def mail(configured):
    import boto3

    boto3.client("sesv2").create_email_identity(EmailIdentity="example.com")
    return configured(**SES, **MANY_IPS)


def _use_up_the_day(client, to: str) -> None:
    for _ in range(10):  # OTP_MAX_VERIFICATIONS_PER_NUMBER_PER_DAY's default
        status, body, _ = start(client, to=to, channel="email")
        assert status == 201, body
        assert delete(client, f"/v1/verifications/{body['id']}")[0] == 200


GMAIL_SPELLINGS = [
    "Victim@gmail.com", "VICTIM@gmail.com", "victim@GMAIL.COM", "v.ictim@gmail.com", "vi.ct.im@gmail.com",
    "v.i.c.t.i.m@gmail.com", "victim+1@gmail.com", "victim+otp@gmail.com", "victim+a.b@gmail.com",
    "Vic.Tim+x@Gmail.com", "victim@googlemail.com", "Victim@GoogleMail.com", "v.ictim+2@googlemail.com",
    "victim+@gmail.com", "victim+3@gmail.com", "VI.CTIM@gmail.com", "victim+4@gmail.com",
    "vicTIM@gmail.com", "victim+zzz@googlemail.com",
]


def test_nineteen_spellings_of_a_used_up_gmail_mailbox_get_no_code(mail):
    """The issue's attack: the day's 10 starts used, then 19 spellings of the same mailbox."""
    assert len(set(GMAIL_SPELLINGS)) == 19
    _use_up_the_day(mail, "victim@gmail.com")
    for spelling in GMAIL_SPELLINGS:
        status, body, _ = start(mail, to=spelling, channel="email")
        assert status == 429 and error_code(body) == "too_many_verifications", (spelling, body)
    assert len(sent()) == 10  # the day's ten, and not one more


def test_case_spellings_of_any_domain_are_one_mailbox(mail):
    _use_up_the_day(mail, "victim@example.com")
    cases = ["".join(c) for c in itertools.product(*[(ch, ch.upper()) for ch in "victim"])][1:20]
    for spelling in cases:
        status, body, _ = start(mail, to=f"{spelling}@Example.COM", channel="email")
        assert status == 429 and error_code(body) == "too_many_verifications", spelling
    assert len(sent()) == 10


def test_a_spelling_of_a_live_verification_is_its_resend_and_goes_to_that_spelling(mail, clock):
    first = start(mail, to="ana.silva@gmail.com", channel="email")[1]
    status, body, _ = start(mail, to="anasilva+shop@gmail.com", channel="email")
    assert status == 429 and error_code(body) == "resend_too_soon"  # the same item: a resend
    clock.advance(31)
    status, body, _ = start(mail, to="AnaSilva+shop@googlemail.com", channel="email")
    assert status == 200 and body["id"] == first["id"] and body["send_count"] == 2
    assert body["to"] == "AnaSilva+shop@googlemail.com"  # the latest start's spelling
    assert [m.destinations["ToAddresses"] for m in sent()] == [["ana.silva@gmail.com"],
                                                               ["AnaSilva+shop@googlemail.com"]]
    # Sends are limited per mailbox: max_sends (5) in all, whatever the spellings.
    for n, spelling in enumerate(["a.nasilva@gmail.com", "anasilva+1@gmail.com", "ANASILVA@gmail.com"]):
        clock.advance(31)
        assert start(mail, to=spelling, channel="email")[1]["send_count"] == 3 + n
    clock.advance(31)
    status, body, _ = start(mail, to="anasilva+6@gmail.com", channel="email")
    assert status == 429 and error_code(body) == "too_many_sends"
    assert len(sent()) == 5
    # A check by yet another spelling approves, and the receipt shows the latest spelling.
    status, body, _ = check(mail, code_in(sent()[-1]), to="a.n.a.s.i.l.v.a+x@GMAIL.com")
    assert status == 200 and body["status"] == "approved" and body["id"] == first["id"]
    assert body["to"] == "ANASILVA@gmail.com"
    assert get(mail, f"/v1/verifications/{first['id']}")[1]["status"] == "approved"


def test_a_refused_resend_leaves_the_spelling_that_got_the_live_code(configured, clock):
    """A resend whose send is refused (here SES refuses the From) is undone: the item keeps
    the code, and the address, of the send that went out."""
    import boto3

    ses = boto3.client("sesv2")
    ses.create_email_identity(EmailIdentity=FROM)
    client = configured(**SES, **MANY_IPS)
    first = start(client, to="bea@gmail.com", channel="email")[1]
    ses.delete_email_identity(EmailIdentity=FROM)
    clock.advance(31)
    status, body, _ = start(client, to="b.e.a@gmail.com", channel="email")
    assert status == 502, body
    assert get(client, f"/v1/verifications/{first['id']}")[1]["to"] == "bea@gmail.com"


@pytest.mark.parametrize("one, other", [
    ("ab@example.com", "a.b@example.com"),  # dots matter outside Gmail
    ("ana+x@example.com", "ana@example.com"),  # no known sub-addressing at an unknown domain
    ("ana@example.com", "bea@example.com"),  # another user of the domain
    ("ana@gmail.com", "ana@outlook.com"),  # the same name at another provider
    ("ana-b@gmail.com", "anab@gmail.com"),  # Gmail ignores dots, not hyphens
    ("ana@proton.me", "ana@protonmail.com"),  # Proton's domains are not merged
])
def test_different_mailboxes_are_not_merged(mail, one, other):
    from chalicelib.channels.email_address import parse_email

    assert parse_email(one).key != parse_email(other).key
    _use_up_the_day(mail, one)
    status, body, _ = start(mail, to=other, channel="email")
    assert status == 201, body
    assert sent()[-1].destinations == {"ToAddresses": [other]}


@pytest.mark.parametrize("raw, mailbox", [
    ("Ana.Silva+otp@Example.COM", "ana.silva+otp@example.com"),
    ("A.n.A+x+y@GoogleMail.com", "ana@gmail.com"),
    ("ana+@gmail.com", "ana@gmail.com"),
    ("+tag@gmail.com", "+tag@gmail.com"),  # no name before the tag: kept whole
    ("Ana+news@Outlook.com", "ana@outlook.com"), ("ana+1@hotmail.com", "ana@hotmail.com"),
    ("ana+1@live.com", "ana@live.com"), ("ana+1@msn.com", "ana@msn.com"),
    ("ana+1@icloud.com", "ana@icloud.com"), ("ana+1@me.com", "ana@me.com"), ("ana+1@mac.com", "ana@mac.com"),
    ("ana+1@fastmail.com", "ana@fastmail.com"), ("ana.b+1@fastmail.com", "ana.b@fastmail.com"),
    ("Ana_B-C.D+x@proton.me", "anabcd@proton.me"), ("a.n-a@pm.me", "ana@pm.me"),
    ("ana-x@yahoo.com", "ana-x@yahoo.com"),  # Yahoo's '-' addresses are made one by one: no rule
    ("Ana@BÜCHER.de", "ana@bücher.de"), ("ana@xn--bcher-kva.de", "ana@bücher.de"),
])
def test_the_mailbox_key(raw, mailbox):
    from chalicelib.channels.email_address import parse_email

    assert parse_email(raw).key == mailbox


def test_a_check_by_another_spelling_approves_on_v2(configured, key, outbox):  # noqa: F811
    client = configured(OTP_EMAIL_PROVIDER="console")
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": "Ana.Silva@gmail.com", "Channel": "email"})
    assert status == 201 and body["to"] == "Ana.Silva@gmail.com"
    status, again, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                            {"To": "anasilva+x@gmail.com", "Channel": "email"})
    # The same mailbox: a resend of its verification (issue 29: 201, no wait on v2), the code
    # going to the latest spelling.
    assert status == 201 and again["sid"] == body["sid"] and again["to"] == "anasilva+x@gmail.com"
    assert len(again["send_code_attempts"]) == 2
    code = last_code(outbox)
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"To": "anasilva+signup@googlemail.com", "Code": code})
    assert status == 200 and body["status"] == "approved"


# -- item 11: domains that mix scripts ----------------------------------------------------------

MIXED = [
    "ana@gm\u0430il.com",  # Cyrillic а in gmail
    "ana@p\u0430ypal.com",  # Cyrillic а in paypal
    "ana@g\u03bf\u03bfgle.com",  # Greek omicrons in google
    "ana@\u0440\u0430ypal.com",  # Cyrillic р and а, Latin ypal
    "ana@mail.gm\u0430il.com",  # any label, not only the first
    "ana@example.\u0441om",  # the TLD too
    "ana@\u043f\u03c1\u0438\u043c\u0435\u0440.\u0440\u0444",  # Cyrillic with a Greek rho
    "ana@\u4f8b\ud55c\u3048.jp",  # Han + Hangul + Hiragana: no one writing system uses all three
]
HONEST = [
    "ana@bücher.de", "ana@münchen.de", "ana@пример.рф", "ana@例え.jp", "ana@παράδειγμα.gr",
    "ana@sony例え.jp",  # Latin + Han + Hiragana (Japanese)
    "ana@abc한국.kr",  # Latin + Hangul (Korean)
    "ana@中文ㄅ.tw",  # Han + Bopomofo
    "ana@xn--bcher-kva.de", "ana@café-1.fr", "ana@123.example.com",
]


@pytest.mark.parametrize("raw", MIXED)
def test_a_domain_label_that_mixes_scripts_is_refused(raw):
    import idna

    from chalicelib.channels.email_address import parse_email

    with pytest.raises(InvalidEmailAddress):
        parse_email(raw)
    local, _, domain = raw.partition("@")
    with pytest.raises(InvalidEmailAddress):  # and as its A-label
        parse_email(f"{local}@{idna.encode(domain, uts46=True).decode()}")


@pytest.mark.parametrize("raw", HONEST)
def test_honest_idns_pass(raw):
    from chalicelib.channels.email_address import parse_email

    assert parse_email(raw).address.startswith("ana@")


def test_a_mixed_script_domain_is_400_on_v1_and_60200_on_v2_and_sends_nothing(configured, key, outbox):  # noqa: F811
    client = configured(OTP_EMAIL_PROVIDER="console")
    status, body, _ = start(client, to="ana@gm\u0430il.com", channel="email")
    assert status == 400 and error_code(body) == "invalid_email_address"
    assert "script" in body["error"]["message"]
    status, body, _ = post(client, "/v1/verifications/check", {"to": "ana@gm\u0430il.com", "code": "123456"})
    assert status == 400 and error_code(body) == "invalid_email_address"
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": "ana@p\u0430ypal.com", "Channel": "email"})
    assert status == 400 and twilio_error(body) == 60200 and "`To`" in body["message"]
    assert len(outbox) == 0
    assert start(client, to="ana@bücher.de", channel="email")[0] == 201  # an honest IDN goes
