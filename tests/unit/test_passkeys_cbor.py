"""The passkeys' CBOR decoder (chalicelib/passkeys/cbor.py) reads what cbor2 writes, and
refuses what a passkey never sends."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.passkeys.cbor import CborError, decode, decode_prefix

_leaves = st.one_of(st.integers(min_value=-(2**64), max_value=2**64 - 1), st.binary(max_size=64),
                    st.text(max_size=32), st.booleans(), st.none())
_values = st.recursive(_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.one_of(st.integers(-100, 100), st.text(max_size=8)),
                                                 inner, max_size=5)), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_it_reads_what_cbor2_writes(value):
    try:
        encoded = cbor2.dumps(value)
    except Exception:
        return
    try:
        assert decode(encoded) == value
    except CborError as exc:  # only what is deeper than MAX_DEPTH
        assert "deep" in str(exc)


def test_a_prefix_reports_where_it_ends():
    encoded = cbor2.dumps({1: 2, 3: -7}) + b"rest"
    value, end = decode_prefix(encoded)
    assert value == {1: 2, 3: -7} and encoded[end:] == b"rest"


@pytest.mark.parametrize("raw", [
    b"\x5f\x41a\xff",  # an indefinite byte string
    b"\xc1\x00",  # a tag
    b"\xfa\x00\x00\x00\x00",  # a float
    b"\xa2\x01\x01\x01\x02",  # a key given twice
    b"\x58\x10abc",  # truncated
    b"\x01\x02",  # trailing bytes
    b"\x9a\xff\xff\xff\xff",  # an array longer than the input
    b"\x81" * 20 + b"\x00",  # too deep
    b"\x62\xff\xfe",  # text that is not UTF-8
])
def test_what_a_passkey_never_sends_is_refused(raw):
    with pytest.raises(CborError):
        decode(raw)
