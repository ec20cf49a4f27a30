# -*- test-case-name: tests.session.test_flask -*-
"""
Flask's default session cookie (C{SecureCookieSessionInterface}, Flask 3.1),
read without Flask.

The cookie is itsdangerous's C{URLSafeTimedSerializer} with Flask's settings:
salt C{"cookie-session"}, key derivation C{"hmac"}, digest SHA-1 (see
L{ratchet_tx.session.codecs.itsdangerous}); the signed value is
C{["."] base64url(data)}, C{"."} marking zlib compression, and the data is
Flask's I{tagged JSON} (C{flask/json/tag.py}): a JSON object with one key
that is a tag stands for a value JSON has no type for::

    {" t": [...]}          tuple
    {" b": "base64"}       bytes
    {" m": "<b>html</b>"}  markupsafe.Markup (read as a plain str here)
    {" u": "hex"}          uuid.UUID
    {" d": "HTTP date"}    datetime.datetime (aware; None if unparsable, as in Flask)
    {" di": {"k__": v}}    a dict {"k": v} whose only key is itself a tag

The maximum age is C{PERMANENT_SESSION_LIFETIME} (31 days by default),
enforced for every session, permanent or not, as Flask does.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from ratchet_tx.session.codecs import itsdangerous
from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.codecs.signing import (
    Key,
    decodePayload,
    loadJSON,
    standardB64Decode,
)
from ratchet_tx.session.errors import MalformedSession

#: C{SecureCookieSessionInterface.salt}.
SALT = b"cookie-session"
#: C{PERMANENT_SESSION_LIFETIME}'s default: 31 days, in seconds.
PERMANENT_SESSION_LIFETIME = 31 * 24 * 60 * 60
#: C{SESSION_COOKIE_NAME}'s default.
SESSION_COOKIE_NAME = "session"



def _parseDate(value: Any) -> datetime | None:
    # werkzeug.http.parse_date: None when unparsable; naive means UTC.
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed


def _untagDict(value: Any) -> dict[str, Any]:
    key = next(iter(value))
    return {key[:-2]: value[key]}


def _bytes(value: Any) -> bytes:
    return standardB64Decode(value.encode("ascii"))


#: Flask's default tags, by key: what each makes of the tagged value.
TAGS: dict[str, Callable[[Any], Any]] = {
    " di": _untagDict,
    " t": tuple,
    " b": _bytes,
    " m": str,
    " u": UUID,
    " d": _parseDate,
}


def untag(value: Any) -> Any:
    """
    Turn Flask's tagged JSON (already parsed) into Python values, as
    C{TaggedJSONSerializer.loads} does: innermost first.  Iterative, and
    changes the containers of C{value} in place.

    @raise MalformedSession: if a tagged value is not what its tag needs.
    """
    holder = [value]
    order: list[tuple[Any, Any, Any]] = []
    stack: list[tuple[Any, Any, Any]] = [(value, holder, 0)]
    while stack:
        node, parent, key = stack.pop()
        if isinstance(node, dict):
            order.append((node, parent, key))
            stack.extend((child, node, name) for name, child in node.items())
        elif isinstance(node, list):
            stack.extend((child, node, index) for index, child in enumerate(node))
    for node, parent, key in reversed(order):
        if len(node) == 1:
            tag = next(iter(node))
            convert = TAGS.get(tag)
            if convert is not None:
                try:
                    parent[key] = convert(node[tag])
                except (TypeError, ValueError, AttributeError, StopIteration,
                        UnicodeError, MalformedSession) as error:
                    raise MalformedSession(f"bad {tag.strip()!r} tagged value") from error
    return holder[0]


def loads(
    cookie: str | bytes,
    secretKey: Key,
    *,
    fallbackKeys: Sequence[Key] = (),
    maxAge: float | None = PERMANENT_SESSION_LIFETIME,
    now: float,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """
    Read a Flask session cookie: what C{session} held when it was written.

    @param fallbackKeys: C{SECRET_KEY_FALLBACKS}.
    @param now: the current time, in seconds since the epoch.
    @raise InvalidSession: (a subclass) if the cookie is not a valid,
        unexpired Flask session signed with one of the keys.
    """
    payload = itsdangerous.unsign(
        cookie,
        secretKey,
        salt=SALT,
        derivation=itsdangerous.KeyDerivation.HMAC,
        fallbackKeys=fallbackKeys,
        maxAge=maxAge,
        now=now,
        limits=limits,
    )
    try:
        text = decodePayload(payload, limits).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedSession("not UTF-8") from error
    return untag(loadJSON(text, limits))
