# -*- test-case-name: tests.session.test_redisstores -*-
"""
Stores for sessions kept in Redis, where the cookie is a session id and the
session a string under a key made from it: PHP with the phpredis save
handler, Django's Redis cache, Flask-Session's Redis interface, and plain
JSON for a web app of one's own.

Every store reads through one L{ratchet_tx.redis.RedisClient}: lookups of
many handshakes at once are C{GET}s pipelined on its single connection (a
thousand concurrent handshakes cost one connection and about one round
trip), and a slow Redis delays only the handshakes waiting for it.  Without
a connection a lookup fails at once with L{SessionUnavailable}, so the
handshake is answered at once (503 when a session is required, an empty
session otherwise); a reply slower than the provider's C{lookupTimeout}
is abandoned by the provider.

Expiry is Redis's: every one of these frameworks sets a TTL on the key
(PHP's C{session.gc_maxlifetime}, Django's C{SESSION_COOKIE_AGE},
Flask-Session's C{PERMANENT_SESSION_LIFETIME}), so a key that is gone is no
session.  What a key holds is decoded in the reactor thread, bounded by the
store's L{Limits}.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import CancelledError, fail
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.redis.client import RedisClient
from ratchet_tx.redis.errors import RedisError
from ratchet_tx.redis.interfaces import IRedisClient
from ratchet_tx.redis.url import RedisAddress
from ratchet_tx.session.codecs import restrictedpickle
from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.codecs.msgpack import unpackb
from ratchet_tx.session.codecs.phpsession import SerializeHandler, decodeSession
from ratchet_tx.session.codecs.signing import loadJSON
from ratchet_tx.session.errors import MalformedSession, SessionUnavailable
from ratchet_tx.session.interfaces import ISessionStore

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

#: PHP's session ids: C{session.sid_bits_per_character} 4, 5 or 6 draws
#: from C{0-9a-v}, C{0-9a-zA-Z,-}; C{session_id()} accepts the same set,
#: up to 256 characters.
_PHP_SESSION_ID = re.compile(r"[A-Za-z0-9,-]{1,256}")
#: Django's session keys (see L{ratchet_tx.session.djangodb}).
_DJANGO_SESSION_KEY = re.compile(r"[a-z0-9]{8,40}")
#: Flask-Session's ids: C{secrets.token_urlsafe(SESSION_ID_LENGTH)}.
_URLSAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: Any cookie value (RFC 6265's cookie-octets), for a site of one's own.
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,512}")

#: Redis error codes that mean the key holds something that is no session.
_GARBAGE_CODES = frozenset({"WRONGTYPE"})


def _asBytes(text: str | bytes) -> bytes:
    return text.encode("utf-8") if isinstance(text, str) else text


class _RedisStore:
    """
    What the Redis stores share: a client, a key prefix, which cookie values
    can be session ids, and limits; subclasses say how to decode a value.

    @ivar client: the L{IRedisClient} the lookups go through.
    @ivar prefix: the bytes before the session id in every key.
    """

    cookieName = ""
    _sessionId: re.Pattern[str] = _COOKIE_VALUE
    _what = "session id"

    def __init__(
        self,
        redisURL: str | RedisAddress | IRedisClient,
        prefix: str | bytes,
        reactor: Any,
        limits: Limits,
    ) -> None:
        if IRedisClient.providedBy(redisURL):
            self.client: IRedisClient = redisURL
            self._ownsClient = False
        else:
            if reactor is None:
                from twisted.internet import reactor
            self.client = RedisClient(reactor, redisURL)
            self._ownsClient = True
        self.prefix = _asBytes(prefix)
        self.limits = limits

    def keyFor(self, cookieValue: str) -> bytes:
        """The Redis key of the session that C{cookieValue} names."""
        return self.prefix + cookieValue.encode("ascii")

    def load(self, cookieValue: str) -> Deferred[Any]:
        """
        C{GET} the session the cookie names, and decode it.

        @return: a Deferred firing with the session's data, or C{None} when
            there is no such key; failing with L{MalformedSession} for a
            cookie that cannot be a session id or a value that is not a
            session of this format, and with L{SessionUnavailable} when
            Redis cannot be asked.
        """
        if not self._sessionId.fullmatch(cookieValue):
            return fail(MalformedSession(f"not a {self._what}"))
        d = self.client.execute("GET", self.keyFor(cookieValue))
        return d.addCallbacks(self._stored, self._failed)

    def _stored(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, bytes):
            raise MalformedSession("the key holds no string")
        self.limits.checkSize(len(value))
        data = self.decode(value)
        if not isinstance(data, dict):
            raise MalformedSession("the session is not a mapping")
        return data

    @staticmethod
    def _failed(failure: Failure) -> Failure:
        if failure.check(CancelledError):
            return failure  # the provider gave up waiting
        if failure.check(RedisError):
            if failure.value.code in _GARBAGE_CODES:
                raise MalformedSession(f"Redis says {failure.value.code}")
        raise SessionUnavailable(f"{failure.type.__name__}: {failure.getErrorMessage()}")

    def decode(self, value: bytes) -> Any:
        """The session in C{value}; L{MalformedSession} if there is none."""
        raise NotImplementedError

    def close(self) -> Deferred[None] | None:
        """
        Close the Redis client, if the store made it (a shared client is
        its owner's to close).
        """
        if self._ownsClient:
            return self.client.close()
        return None

    def __repr__(self) -> str:
        # The client's address, never its password.
        return f"<{type(self).__name__} {self.client.address} prefix={self.prefix!r}>"


@implementer(ISessionStore)
class PHPRedisStore(_RedisStore):
    """
    PHP's own session module with the phpredis extension's save handler
    (C{session.save_handler = redis}): the cookie C{PHPSESSID} holds the
    session id, the key C{PHPREDIS_SESSION:<id>} holds C{session_encode()}'s
    output, and C{session.gc_maxlifetime} is its TTL.

    PHP objects in the session become L{ratchet_tx.session.PHPObject}s
    (mappings with their class name), never instances; the unserializer is
    bounded (L{Limits}) and iterative.

    @param redisURL: C{session.save_path}'s server as a C{redis://} URL
        (phpredis's C{tcp://host:port?database=N} is
        C{redis://host:port/N}), or an L{IRedisClient} to share.
    @param prefix: phpredis's C{prefix} in C{session.save_path}.
    @param serializeHandler: PHP's C{session.serialize_handler}: C{"php"},
        C{"php_binary"} or C{"php_serialize"}.
    @param reactor: the reactor of the client the store makes.
    @param limits: bounds on one session.
    """

    cookieName = "PHPSESSID"
    _sessionId = _PHP_SESSION_ID
    _what = "PHP session id"

    def __init__(
        self,
        redisURL: str | RedisAddress | IRedisClient,
        *,
        prefix: str | bytes = "PHPREDIS_SESSION:",
        serializeHandler: SerializeHandler | str = SerializeHandler.PHP,
        reactor: Any = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.serializeHandler = SerializeHandler(serializeHandler)
        super().__init__(redisURL, prefix, reactor, limits)

    def decode(self, value: bytes) -> Any:
        """C{session_decode()} under the store's serialize handler."""
        return decodeSession(value, self.serializeHandler, self.limits)


@implementer(ISessionStore)
class DjangoCacheStore(_RedisStore):
    """
    Django's C{cache} session backend on Django's Redis cache
    (C{django.core.cache.backends.redis.RedisCache}): the cookie
    C{sessionid} holds the session key, the cache key
    C{<KEY_PREFIX>:<VERSION>:django.contrib.sessions.cache<key>} holds the
    session dict I{pickled}, and C{SESSION_COOKIE_AGE} is its TTL.

    B{The risk}: unpickling runs whatever callables the data names, so
    anyone who can write to that Redis (a shared cache, a leaked password,
    another app on the same database) could run code in this server.  The
    store is refused unless C{allowPickle=True} says you accept reading
    pickles from it, and even then it unpickles with
    L{ratchet_tx.session.codecs.restrictedpickle}, which makes only plain
    values and a short list of standard types (dates, decimals, UUIDs,
    sets): a session holding anything else (a model instance) is no
    session.  Prefer the C{signed_cookies} or C{db} backends
    (L{DjangoSignedCookieStore}, L{DjangoDatabaseStore}), which store
    signed JSON.

    @param redisURL: the cache's C{LOCATION} (a C{redis://} URL), or an
        L{IRedisClient} to share.
    @param allowPickle: must be C{True}: the pickles are read, restricted.
    @param keyPrefix: the cache's C{KEY_PREFIX} (empty by default).
    @param version: the cache's C{VERSION} (1 by default).
    @param sessionPrefix: C{"django.contrib.sessions.cache"}, or
        C{"django.contrib.sessions.cached_db"} for the C{cached_db} backend.
    @param reactor: the reactor of the client the store makes.
    @param limits: bounds on one session.
    @raise ValueError: C{allowPickle} is not C{True}.
    """

    cookieName = "sessionid"
    _sessionId = _DJANGO_SESSION_KEY
    _what = "Django session key"

    def __init__(
        self,
        redisURL: str | RedisAddress | IRedisClient,
        *,
        allowPickle: bool = False,
        keyPrefix: str = "",
        version: int = 1,
        sessionPrefix: str = "django.contrib.sessions.cache",
        reactor: Any = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        if allowPickle is not True:
            raise ValueError(
                "Django's Redis cache stores sessions pickled; reading them needs "
                "allowPickle=True (see DjangoCacheStore's docstring for the risk)"
            )
        super().__init__(redisURL, f"{keyPrefix}:{version}:{sessionPrefix}", reactor, limits)

    def decode(self, value: bytes) -> Any:
        """C{RedisSerializer.loads}, with the restricted unpickler."""
        return restrictedpickle.loads(value, self.limits)


@implementer(ISessionStore)
class FlaskSessionRedisStore(_RedisStore):
    """
    Flask-Session's C{RedisSessionInterface} (Flask-Session 0.8,
    C{SESSION_TYPE = "redis"}): the cookie C{session} holds the session id,
    the key C{session:<id>} holds the session dict encoded by C{msgspec}
    as MessagePack (or JSON, with C{SESSION_SERIALIZATION_FORMAT = "json"};
    read either way, as Flask-Session does).  Flask-Session's last fallback,
    C{pickle.loads}, is refused: a pickled session is no session.  The
    deprecated C{SESSION_USE_SIGNER} is not supported.

    @param redisURL: the server of C{SESSION_REDIS} as a C{redis://} URL, or
        an L{IRedisClient} to share.
    @param prefix: C{SESSION_KEY_PREFIX}.
    @param reactor: the reactor of the client the store makes.
    @param limits: bounds on one session.
    """

    cookieName = "session"
    _sessionId = _URLSAFE_ID
    _what = "Flask-Session id"

    def __init__(
        self,
        redisURL: str | RedisAddress | IRedisClient,
        *,
        prefix: str | bytes = "session:",
        reactor: Any = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(redisURL, prefix, reactor, limits)

    def decode(self, value: bytes) -> Any:
        """MessagePack, else JSON; never pickle."""
        if value[:1] == b"{":
            return loadJSON(value, self.limits)
        if value[:1] == b"\x80" and value[-1:] == b".":
            raise MalformedSession("a pickled session (Flask-Session's pickle fallback)")
        return unpackb(value, self.limits)


@implementer(ISessionStore)
class RedisJSONStore(_RedisStore):
    """
    Sessions a web app of one's own writes as JSON objects under
    C{<prefix><cookie value>} (with a TTL, for expiry)::

        # the web app, at login:
        redis.set("myapp:session:" + sid, json.dumps({"user": "ada"}), ex=3600)

        store = RedisJSONStore("redis://127.0.0.1:6379/0", prefix="myapp:session:")

    @param redisURL: a C{redis://} URL, or an L{IRedisClient} to share.
    @param prefix: what comes before the cookie's value in every key.
    @param cookieName: the cookie that holds the session id.
    @param reactor: the reactor of the client the store makes.
    @param limits: bounds on one session.
    """

    def __init__(
        self,
        redisURL: str | RedisAddress | IRedisClient,
        *,
        prefix: str | bytes,
        cookieName: str = "session",
        reactor: Any = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.cookieName = cookieName
        super().__init__(redisURL, prefix, reactor, limits)

    def decode(self, value: bytes) -> Any:
        """A JSON object."""
        return loadJSON(value, self.limits)
