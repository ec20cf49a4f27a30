# -*- test-case-name: tests.session.test_signing -*-
"""
Pieces shared by the signed-cookie formats (Django's C{signing},
itsdangerous for Flask and Starlette): strict base64, HMAC checked in
constant time, bounded zlib and bounded JSON.

Pure: no Twisted, no framework.
"""

from __future__ import annotations

import binascii
import hmac
import json
import re
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from ratchet_tx.session.codecs.limits import Limits, checkJSONValue
from ratchet_tx.session.errors import BadSignature, MalformedSession

#: A key as the frameworks take it: C{str} (encoded as UTF-8) or C{bytes}.
Key = str | bytes

_COMPRESSED = b"."
_URLSAFE = re.compile(rb"[A-Za-z0-9_-]*")
_STANDARD = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def asBytes(key: Key) -> bytes:
    """A key or value as bytes: C{str} is encoded as UTF-8."""
    return key.encode("utf-8") if isinstance(key, str) else key


def urlsafeB64Decode(data: bytes) -> bytes:
    """
    Decode unpadded URL-safe base64 (what Django and itsdangerous write).

    @raise MalformedSession: on any character outside the alphabet, or a
        length no encoder makes.
    """
    if _URLSAFE.fullmatch(data) is None or len(data) % 4 == 1:
        raise MalformedSession("not URL-safe base64")
    padded = data + b"=" * (-len(data) % 4)
    try:
        return binascii.a2b_base64(padded.replace(b"-", b"+").replace(b"_", b"/"))
    except binascii.Error as error:
        raise MalformedSession("not URL-safe base64") from error


def standardB64Decode(data: bytes) -> bytes:
    """
    Decode padded standard base64 (what Starlette and Flask's C{" b"} tag
    write).

    @raise MalformedSession: on any character outside the alphabet.
    """
    if _STANDARD.fullmatch(data) is None or len(data) % 4:
        raise MalformedSession("not base64")
    try:
        return binascii.a2b_base64(data)
    except binascii.Error as error:
        raise MalformedSession("not base64") from error


def urlsafeB64Encode(data: bytes) -> bytes:
    """Unpadded URL-safe base64 (the encoding of signatures)."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").replace(
        b"+", b"-"
    ).replace(b"/", b"_")


def checkSignature(
    value: bytes,
    signature: bytes,
    keys: Iterable[bytes],
    sign: Callable[[bytes, bytes], bytes],
) -> None:
    """
    Check that C{signature} is C{sign(key, value)} for one of C{keys},
    comparing in constant time.

    @param sign: computes the encoded signature of a value under a key.
    @raise BadSignature: if no key signed it.
    """
    for key in keys:
        if hmac.compare_digest(signature, sign(key, value)):
            return
    raise BadSignature("the signature does not match")


def unsignTimestamped(
    signed: str | bytes,
    separator: bytes,
    keys: Iterable[Key],
    sign: Callable[[bytes, bytes], bytes],
    limits: Limits,
) -> tuple[bytes, bytes]:
    """
    Check C{value SEP timestamp SEP signature} (the layout of Django's and
    itsdangerous's timestamp signers), the signature over C{value SEP
    timestamp} under any of C{keys}.

    @return: C{(value, timestamp)}, both still encoded.
    @raise BadSignature: if no key signed it.
    @raise MalformedSession: if it is over C{limits.maxSize}, or not in
        that layout.
    """
    raw = asBytes(signed)
    limits.checkSize(len(raw))
    value, found, signature = raw.rpartition(separator)
    if not found:
        raise MalformedSession("no signature")
    checkSignature(value, signature, [asBytes(key) for key in keys], sign)
    payload, found, stamp = value.rpartition(separator)
    if not found:
        raise MalformedSession("no timestamp")
    return payload, stamp


def decodePayload(payload: bytes, limits: Limits) -> bytes:
    """
    The data of a URL-safe payload as Django and itsdangerous write it:
    C{["."] base64url(data)}, where C{"."} means C{data} is zlib-compressed.

    @raise MalformedSession: if it is not that, or inflates beyond C{limits}.
    """
    compressed = payload[:1] == _COMPRESSED
    data = urlsafeB64Decode(payload[1:] if compressed else payload)
    return inflate(data, limits) if compressed else data


def inflate(data: bytes, limits: Limits) -> bytes:
    """
    Decompress zlib data, but never to more than C{limits.maxSize} bytes (a
    zip bomb stops there).

    @raise MalformedSession: if it is not zlib data, is cut short, or
        inflates beyond the limit.
    """
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limits.maxSize + 1)
    except zlib.error as error:
        raise MalformedSession("not zlib data") from error
    limits.checkSize(len(out))
    if inflater.unconsumed_tail or inflater.unused_data or not inflater.eof:
        raise MalformedSession("truncated, oversized or trailed zlib data")
    return out


def loadJSON(text: str | bytes, limits: Limits) -> Any:
    """
    Parse JSON (with Python's C{json}, as the frameworks do) within C{limits}.

    @raise MalformedSession: if it is not JSON or exceeds a limit.
    """
    limits.checkSize(len(text))
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise MalformedSession("not JSON") from error
    checkJSONValue(value, limits)
    return value
