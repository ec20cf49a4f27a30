"""
The web site's session, read from its own store, for WebSocket applications::

    from ratchet_tx import session
    store = session.DjangoSignedCookieStore(SECRET_KEY)
    Server(WebSocket(session.SessionProvider(Chat(), store, required=True)))

The application gets C{conn.session}, a read-only mapping (empty without a
valid session) with C{reload()}.  Stores read exactly what the frameworks
write, without importing them: Django (signed cookies, database), Flask and
Starlette (signed cookies), PHP's session formats (see
L{ratchet_tx.session.codecs}), and sessions in Redis (PHP's phpredis handler,
Django's Redis cache, Flask-Session, plain JSON: L{PHPRedisStore},
L{DjangoCacheStore}, L{FlaskSessionRedisStore}, L{RedisJSONStore});
anything else provides L{ISessionStore}.
"""

from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.codecs.php import PHPCustomObject, PHPEnum, PHPObject
from ratchet_tx.session.codecs.phpsession import SerializeHandler
from ratchet_tx.session.cookiestores import (
    DjangoSignedCookieStore,
    FlaskCookieStore,
    StarletteCookieStore,
)
from ratchet_tx.session.djangodb import DjangoDatabaseStore
from ratchet_tx.session.errors import (
    BadSignature,
    InvalidSession,
    MalformedSession,
    SessionExpired,
    SessionUnavailable,
)
from ratchet_tx.session.interfaces import ISessionStore
from ratchet_tx.session.provider import DEFAULT_LOOKUP_TIMEOUT, SessionProvider
from ratchet_tx.session.redisstores import (
    DjangoCacheStore,
    FlaskSessionRedisStore,
    PHPRedisStore,
    RedisJSONStore,
)
from ratchet_tx.session.view import Session, SessionConnection

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_LOOKUP_TIMEOUT",
    "BadSignature",
    "DjangoCacheStore",
    "DjangoDatabaseStore",
    "DjangoSignedCookieStore",
    "FlaskCookieStore",
    "FlaskSessionRedisStore",
    "ISessionStore",
    "InvalidSession",
    "Limits",
    "MalformedSession",
    "PHPCustomObject",
    "PHPEnum",
    "PHPObject",
    "PHPRedisStore",
    "RedisJSONStore",
    "SerializeHandler",
    "Session",
    "SessionConnection",
    "SessionExpired",
    "SessionProvider",
    "SessionUnavailable",
    "StarletteCookieStore",
]
