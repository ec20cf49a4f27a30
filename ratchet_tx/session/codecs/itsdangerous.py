# -*- test-case-name: tests.session.test_itsdangerous -*-
"""
itsdangerous's C{TimestampSigner}, read without itsdangerous (2.2): the
signing under Flask's and Starlette's session cookies.

The format::

    signed    = value "." timestamp "." signature
    timestamp = base64url(big-endian int(time.time()), leading zero bytes dropped)
    signature = base64url(HMAC-digest(key=derive(secret, salt), msg=value "." timestamp))

base64url is unpadded.  Two key derivations are in use: C{"hmac"} (Flask:
C{HMAC-digest(key=secret, msg=salt)}) and C{"django-concat"}
(itsdangerous's default, so Starlette's: C{digest(salt + "signer" + secret)}).
Both use SHA-1 by default.  Every key is tried, newest first; a good
signature older than C{maxAge} seconds, or from the future, is expired.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from enum import Enum

from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.codecs.signing import (
    Key,
    unsignTimestamped,
    urlsafeB64Decode,
    urlsafeB64Encode,
)
from ratchet_tx.session.errors import MalformedSession, SessionExpired

_SEPARATOR = b"."
#: itsdangerous packs timestamps into at most 8 bytes (C{struct ">Q"}).
_MAX_TIMESTAMP_BYTES = 8


class KeyDerivation(Enum):
    """How itsdangerous makes the signing key from the secret and the salt."""

    #: C{HMAC(secret, salt)}: Flask's choice.
    HMAC = "hmac"
    #: C{digest(salt + b"signer" + secret)}: itsdangerous's default.
    DJANGO_CONCAT = "django-concat"


def _signer(
    salt: bytes, derivation: KeyDerivation, digest: Callable[..., hashlib._Hash]
) -> Callable[[bytes, bytes], bytes]:
    def sign(secret: bytes, value: bytes) -> bytes:
        if derivation is KeyDerivation.HMAC:
            key = hmac.new(secret, salt, digest).digest()
        else:
            key = digest(salt + b"signer" + secret).digest()
        return urlsafeB64Encode(hmac.new(key, value, digest).digest())

    return sign


def unsign(
    signed: str | bytes,
    secretKey: Key,
    *,
    salt: bytes,
    derivation: KeyDerivation,
    fallbackKeys: Sequence[Key] = (),
    digest: Callable[..., hashlib._Hash] = hashlib.sha1,
    maxAge: float | None = None,
    now: float,
    limits: Limits = DEFAULT_LIMITS,
) -> bytes:
    """
    C{TimestampSigner(keys, salt=salt, key_derivation=derivation,
    digest_method=digest).unsign(signed, max_age=maxAge)}.

    @param fallbackKeys: older keys, also accepted.
    @param now: the current time, in seconds since the epoch.
    @return: the signed value.
    @raise BadSignature: if no key signed C{signed}.
    @raise SessionExpired: if it was signed more than C{maxAge} seconds
        before C{now}, or after C{now}.
    @raise MalformedSession: if it is not in the format, or over C{limits}.
    """
    payload, stamp = unsignTimestamped(
        signed, _SEPARATOR, (secretKey, *fallbackKeys), _signer(salt, derivation, digest), limits
    )
    packed = urlsafeB64Decode(stamp)
    if not packed or len(packed) > _MAX_TIMESTAMP_BYTES:
        raise MalformedSession("malformed timestamp")
    timestamp = int.from_bytes(packed, "big")
    if maxAge is not None:
        age = int(now) - timestamp
        if age > maxAge or age < 0:
            raise SessionExpired(f"signed {age} s ago, outside 0..{maxAge} s")
    return payload
