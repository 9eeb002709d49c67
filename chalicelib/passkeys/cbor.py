"""A small CBOR decoder (RFC 8949) for WebAuthn's attestation objects and COSE keys.

What authenticators send is CTAP2's canonical CBOR: definite lengths only, integers, byte and
text strings, arrays, maps, and the simple values. Anything else (indefinite lengths, tags,
floats, a map with a repeated key, nesting deeper than ``MAX_DEPTH``) is refused: a passkey
never needs it, and a decoder that accepts less has less to get wrong. cbor2 6.x is a Rust
wheel with no pure-Python fallback, so it cannot go in the Lambda zip; this one is ~80 lines
and checked against cbor2 in tests/unit/test_passkeys_cbor.py.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 8
_SIMPLE = {20: False, 21: True, 22: None}


class CborError(ValueError):
    """The bytes are not the CBOR a passkey sends."""


def decode(data: bytes) -> Any:
    """The one value ``data`` holds (trailing bytes refused)."""
    value, end = decode_prefix(data)
    if end != len(data):
        raise CborError(f"{len(data) - end} bytes after the value")
    return value


def decode_prefix(data: bytes, offset: int = 0) -> tuple[Any, int]:
    """The value starting at ``offset`` and the offset after it (authenticator data holds a
    COSE key followed by more bytes, its length given by nothing but the CBOR itself)."""
    return _item(bytes(data), offset, 0)


def _head(data: bytes, offset: int) -> tuple[int, int, int]:
    """(major type, argument, offset after the head)."""
    if offset >= len(data):
        raise CborError("truncated")
    first = data[offset]
    major, info = first >> 5, first & 0x1F
    if info < 24:
        return major, info, offset + 1
    if info > 27:
        raise CborError("indefinite lengths and reserved values are not accepted")
    size = 1 << (info - 24)
    end = offset + 1 + size
    if end > len(data):
        raise CborError("truncated")
    return major, int.from_bytes(data[offset + 1:end], "big"), end


def _item(data: bytes, offset: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise CborError("nested too deep")
    major, arg, offset = _head(data, offset)
    if major == 0:
        return arg, offset
    if major == 1:
        return -1 - arg, offset
    if major in (2, 3):
        end = offset + arg
        if end > len(data):
            raise CborError("truncated")
        raw = data[offset:end]
        if major == 2:
            return raw, end
        try:
            return raw.decode("utf-8"), end
        except UnicodeDecodeError:
            raise CborError("a text string that is not UTF-8") from None
    if major == 4:
        if arg > len(data) - offset:  # each element is at least one byte
            raise CborError("truncated")
        items = []
        for _ in range(arg):
            value, offset = _item(data, offset, depth + 1)
            items.append(value)
        return items, offset
    if major == 5:
        if arg > (len(data) - offset) // 2:
            raise CborError("truncated")
        mapping: dict[Any, Any] = {}
        for _ in range(arg):
            key, offset = _item(data, offset, depth + 1)
            if not isinstance(key, (int, str)):
                raise CborError("a map key that is not an integer or a text string")
            if key in mapping:
                raise CborError("a map key given twice")
            mapping[key], offset = _item(data, offset, depth + 1)
        return mapping, offset
    if major == 7 and arg in _SIMPLE and data[offset - 1] & 0x1F < 24:
        return _SIMPLE[arg], offset
    raise CborError("tags, floats and other simple values are not accepted")
