# -*- test-case-name: tests.session.test_starlette -*-
"""
Starlette's C{SessionMiddleware} cookie (Starlette 1.10), read without
Starlette.

The cookie is C{itsdangerous.TimestampSigner(secret_key)} with every default
(salt C{"itsdangerous.Signer"}, key derivation C{"django-concat"}, SHA-1; see
L{ratchet_tx.session.codecs.itsdangerous}) over the I{standard}, padded
base64 of the session's JSON.  The maximum age is the middleware's
C{max_age} (14 days by default; C{None} for a browser-session cookie).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ratchet_tx.session.codecs import itsdangerous
from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.codecs.signing import Key, loadJSON, standardB64Decode

#: itsdangerous's default salt, which Starlette keeps.
SALT = b"itsdangerous.Signer"
#: C{SessionMiddleware}'s default C{max_age}: 14 days, in seconds.
MAX_AGE = 14 * 24 * 60 * 60
#: C{SessionMiddleware}'s default C{session_cookie}.
SESSION_COOKIE_NAME = "session"


def loads(
    cookie: str | bytes,
    secretKey: Key,
    *,
    fallbackKeys: Sequence[Key] = (),
    maxAge: float | None = MAX_AGE,
    now: float,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """
    Read a Starlette session cookie: what C{request.session} held.

    @param fallbackKeys: older keys, also accepted (Starlette itself takes
        one key; this helps while rotating it).
    @param now: the current time, in seconds since the epoch.
    @raise InvalidSession: (a subclass) if the cookie is not a valid,
        unexpired Starlette session signed with one of the keys.
    """
    payload = itsdangerous.unsign(
        cookie,
        secretKey,
        salt=SALT,
        derivation=itsdangerous.KeyDerivation.DJANGO_CONCAT,
        fallbackKeys=fallbackKeys,
        maxAge=maxAge,
        now=now,
        limits=limits,
    )
    return loadJSON(standardB64Decode(payload), limits)
