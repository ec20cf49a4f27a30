# -*- test-case-name: tests.session.test_django -*-
"""
Django's C{django.core.signing} format, as its session code writes it, read
without Django.

The format (Django 5.2, C{django/core/signing.py})::

    signed  = payload ":" timestamp ":" signature
    payload = ["."] base64url(data)        "." means data is zlib-compressed
    data    = JSON (compact, ASCII), read as Latin-1 like Django does
    timestamp = base62(int(time.time()))   alphabet 0-9 A-Z a-z, "-" sign
    signature = base64url(HMAC-SHA256(key=SHA256(salt + "signer" + secret),
                                      msg=payload ":" timestamp))

base64url is unpadded.  The secret is C{SECRET_KEY}, or one of
C{SECRET_KEY_FALLBACKS}.  The sessions use two salts: L{SIGNED_COOKIES_SALT}
for the C{signed_cookies} backend (whose cookie is this string, checked
against C{SESSION_COOKIE_AGE}) and L{DATABASE_SALT} for the session data of
the database and cache backends (C{SessionBase.key_salt}, which is
C{"django.contrib.sessions." + type(store).__qualname__}; no maximum age:
the row's C{expire_date} decides).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Any

from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.codecs.signing import (
    Key,
    decodePayload,
    loadJSON,
    unsignTimestamped,
    urlsafeB64Encode,
)
from ratchet_tx.session.errors import MalformedSession, SessionExpired

#: The salt of C{django.contrib.sessions.backends.signed_cookies}.
SIGNED_COOKIES_SALT = "django.contrib.sessions.backends.signed_cookies"
#: The salt of the session data the C{db}, C{cache} and C{cached_db} backends store.
DATABASE_SALT = "django.contrib.sessions.SessionStore"
#: C{SESSION_COOKIE_AGE}'s default: two weeks, in seconds.
SESSION_COOKIE_AGE = 60 * 60 * 24 * 7 * 2
#: C{SESSION_COOKIE_NAME}'s default.
SESSION_COOKIE_NAME = "sessionid"

_SEPARATOR = b":"
_BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_VALUES = {digit: value for value, digit in enumerate(_BASE62)}
#: More base-62 digits than any timestamp until the year 4 million needs.
_MAX_TIMESTAMP_DIGITS = 8


def _signer(salt: str) -> Callable[[bytes, bytes], bytes]:
    keySalt = (salt + "signer").encode("utf-8")

    def sign(secret: bytes, value: bytes) -> bytes:
        key = hashlib.sha256(keySalt + secret).digest()
        return urlsafeB64Encode(hmac.new(key, value, hashlib.sha256).digest())

    return sign


def _base62(digits: bytes) -> int:
    negative = digits[:1] == b"-"
    if negative:
        digits = digits[1:]
    if not digits or len(digits) > _MAX_TIMESTAMP_DIGITS:
        raise MalformedSession("malformed timestamp")
    value = 0
    for digit in digits:
        try:
            value = value * 62 + _BASE62_VALUES[digit]
        except KeyError:
            raise MalformedSession("malformed timestamp") from None
    return -value if negative else value


def loads(
    signed: str | bytes,
    secretKey: Key,
    *,
    salt: str,
    fallbackKeys: Sequence[Key] = (),
    maxAge: float | None = None,
    now: float,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """
    Django's C{signing.loads(signed, key=secretKey, salt=salt,
    fallback_keys=fallbackKeys, max_age=maxAge)} with its JSON serializer.

    @param now: the current time, in seconds since the epoch.
    @return: the decoded JSON value.
    @raise BadSignature: if no key signed C{signed}.
    @raise SessionExpired: if it was signed more than C{maxAge} seconds
        before C{now}.
    @raise MalformedSession: if it is not in the format, or over C{limits}.
    """
    payload, stamp = unsignTimestamped(
        signed, _SEPARATOR, (secretKey, *fallbackKeys), _signer(salt), limits
    )
    timestamp = _base62(stamp)
    if maxAge is not None and now - timestamp > maxAge:
        raise SessionExpired(f"signed {now - timestamp:.0f} s ago, over {maxAge} s")
    return loadJSON(decodePayload(payload, limits).decode("latin-1"), limits)
