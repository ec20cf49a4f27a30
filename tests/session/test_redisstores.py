"""
The Redis session stores against a real C{redis-server} (Debian's, on a
free loopback port) holding sessions the real frameworks wrote: PHP's
session module with the phpredis save handler (Debian's C{php-cli} and
C{php-redis}, all three serialize handlers, logout), Django's C{cache}
backend on Django's own Redis cache, Flask-Session's Redis interface, and
plain JSON.  Then bad input (garbage, another format, a key of another
type, a deep payload, a malicious pickle, a cookie that cannot be an id),
many lookups at once over one pipelined connection, and Redis down (the
store fails at once; over a real socket, the handshake is answered 503 when
a session is required and with an empty session otherwise).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import time
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from zope.interface.verify import verifyObject

from ratchet_tx.redis import RedisClient
from ratchet_tx.session import (
    DEFAULT_LOOKUP_TIMEOUT,
    DjangoCacheStore,
    FlaskSessionRedisStore,
    ISessionStore,
    MalformedSession,
    PHPObject,
    PHPRedisStore,
    RedisJSONStore,
    SessionProvider,
    SessionUnavailable,
)
from tests.session.frameworks import (
    djangoCacheSession,
    flaskSessionRedisCookie,
    phpRedisSession,
)
from tests.session.helpers import Greeter, listenWebSocket
from tests.support.redisserver import RedisServer

#: A bound on every wait (the machine is shared).
WAIT = 10.0


async def waitUntil(condition: Callable[[], bool]) -> None:
    """Poll C{condition()} on the running reactor, for at most L{WAIT} seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {WAIT} s")
        await deferLater(reactor, 0.01)


class RedisStoreTestCase(TestCase):
    timeout = 120

    def setUp(self) -> Deferred[Any]:
        self.server = RedisServer.start()
        self.addCleanup(self.server.stop)
        self.client = RedisClient(reactor, self.server.url())
        self.addCleanup(self.client.close)
        return self.client.whenConnected(WAIT)

    async def load(self, store: Any, cookie: str) -> Any:
        return await store.load(cookie)

    async def refused(self, store: Any, cookie: str, reason: str = "") -> str:
        try:
            result = await store.load(cookie)
        except MalformedSession as error:
            self.assertIn(reason, error.reason)
            return error.reason
        raise AssertionError(f"{cookie!r} gave {result!r}")


class PHPRedisStoreTests(RedisStoreTestCase):
    def assertUser(self, session: Any, name: str) -> None:
        self.assertEqual(session["name"], name)
        self.assertEqual(session["visits"], {0: 1, 1: 2.5, 2: True, 3: None})
        user = session["user"]
        self.assertIsInstance(user, PHPObject)
        self.assertEqual(user.className, "User")
        self.assertEqual(user, PHPObject("User", {"name": name, "\0*\0roles": {0: "chat"}}))

    async def test_everySerializeHandler(self) -> None:
        for handler in ("php", "php_binary", "php_serialize"):
            sid = phpRedisSession(self, self.server.port, "login", handler, f"ada-{handler}")
            store = PHPRedisStore(self.client, serializeHandler=handler)
            verifyObject(ISessionStore, store)
            self.assertEqual(store.cookieName, "PHPSESSID")
            self.assertUser(await self.load(store, sid), f"ada-{handler}")

    async def test_logoutElsewhere(self) -> None:
        """After PHP's session_destroy() the key is gone: no session."""
        store = PHPRedisStore(self.client)
        sid = phpRedisSession(self, self.server.port, "login", "php", "Ada")
        self.assertUser(await self.load(store, sid), "Ada")
        phpRedisSession(self, self.server.port, "logout", "php", sid)
        self.assertIsNone(await self.load(store, sid))

    async def test_expiresWithPHPsLifetime(self) -> None:
        sid = phpRedisSession(self, self.server.port, "login", "php", "Ada")
        ttl = self.server.command("TTL", f"PHPREDIS_SESSION:{sid}")
        self.assertEqual(ttl, 1440)  # session.gc_maxlifetime's default
        self.server.command("DEL", f"PHPREDIS_SESSION:{sid}")
        self.assertIsNone(await self.load(PHPRedisStore(self.client), sid))

    async def test_anotherHandlersSessionIsNone(self) -> None:
        sid = phpRedisSession(self, self.server.port, "login", "php_serialize", "Ada")
        await self.refused(PHPRedisStore(self.client, serializeHandler="php"), sid)

    async def test_ownPrefix(self) -> None:
        self.server.command("SET", "myapp:abc123", 'name|s:3:"Bob";')
        store = PHPRedisStore(self.client, prefix="myapp:")
        self.assertEqual(await self.load(store, "abc123"), {"name": "Bob"})

    async def test_deepAndHugePayloads(self) -> None:
        store = PHPRedisStore(self.client)
        self.server.command("SET", "PHPREDIS_SESSION:deep", b"x|" + b"a:1:{i:0;" * 10_000)
        await self.refused(store, "deep", "deeper")
        self.server.command("SET", "PHPREDIS_SESSION:huge", b'x|s:4:"' + b"y" * (2 << 20))
        await self.refused(store, "huge", "over the limit")

    async def test_cookiesThatCannotBeIds(self) -> None:
        store = PHPRedisStore(self.client)
        for cookie in ("", "a b", "a*", "../x", "é", "x" * 257, "a\r\nFLUSHALL"):
            await self.refused(store, cookie, "not a PHP session id")
        self.assertEqual(self.server.command("DBSIZE"), 0)


class DjangoCacheStoreTests(RedisStoreTestCase):
    async def test_djangosCacheBackend(self) -> None:
        data = {"_auth_user_id": "42", "name": "Ada ☃", "roles": ["chat"], "n": 3}
        key = djangoCacheSession(self.server.url(), data)
        store = DjangoCacheStore(self.client, allowPickle=True)
        verifyObject(ISessionStore, store)
        self.assertEqual(store.cookieName, "sessionid")
        self.assertEqual(await self.load(store, key), data)
        self.assertIsNone(await self.load(store, "a" * 32))

    def test_refusedWithoutOptingIn(self) -> None:
        for allow in (False, 1, "yes"):
            error = self.assertRaises(ValueError, DjangoCacheStore, self.client, allowPickle=allow)
            self.assertIn("allowPickle=True", str(error))

    async def test_aMaliciousPickleRunsNothing(self) -> None:
        class Exploit:
            def __reduce__(self) -> Any:
                return (print, ("pwned",))

        store = DjangoCacheStore(self.client, allowPickle=True)
        key = ":1:django.contrib.sessions.cache" + "b" * 32
        self.server.command("SET", key, pickle.dumps({"x": Exploit()}))
        await self.refused(store, "b" * 32, "builtins.print, which is not allowed")
        self.server.command("SET", key, b"\x80\x05garbage")
        await self.refused(store, "b" * 32, "not a valid pickle")

    async def test_keyPrefixAndVersion(self) -> None:
        key = "site:3:django.contrib.sessions.cached_db" + "c" * 32
        self.server.command("SET", key, pickle.dumps({"name": "Ada"}))
        store = DjangoCacheStore(
            self.client,
            allowPickle=True,
            keyPrefix="site",
            version=3,
            sessionPrefix="django.contrib.sessions.cached_db",
        )
        self.assertEqual(await self.load(store, "c" * 32), {"name": "Ada"})


class FlaskSessionRedisStoreTests(RedisStoreTestCase):
    async def test_flaskSessionsMsgpack(self) -> None:
        data = {"user_id": 42, "name": "Ada", "roles": ["chat"], "ok": True}
        sid = flaskSessionRedisCookie(self.server.port, data)
        store = FlaskSessionRedisStore(self.client)
        verifyObject(ISessionStore, store)
        self.assertEqual(store.cookieName, "session")
        session = await self.load(store, sid)
        self.assertEqual({k: session[k] for k in data}, data)

    async def test_flaskSessionsJSON(self) -> None:
        sid = flaskSessionRedisCookie(
            self.server.port,
            {"name": "Ada"},
            SESSION_SERIALIZATION_FORMAT="json",
            SESSION_KEY_PREFIX="app:",
        )
        session = await self.load(FlaskSessionRedisStore(self.client, prefix="app:"), sid)
        self.assertEqual(session["name"], "Ada")

    async def test_itsPickleFallbackIsRefused(self) -> None:
        self.server.command("SET", "session:abc", pickle.dumps({"name": "Ada"}))
        await self.refused(FlaskSessionRedisStore(self.client), "abc", "pickle")


class RedisJSONStoreTests(RedisStoreTestCase):
    async def test_aSiteOfOnesOwn(self) -> None:
        self.server.command("SET", "myapp:s:tok-1.2", json.dumps({"user": "ada", "n": [1]}))
        store = RedisJSONStore(self.client, prefix="myapp:s:", cookieName="sid")
        verifyObject(ISessionStore, store)
        self.assertEqual(store.cookieName, "sid")
        self.assertEqual(await self.load(store, "tok-1.2"), {"user": "ada", "n": [1]})
        self.assertIsNone(await self.load(store, "tok-other"))

    async def test_garbageAnotherFormatAndAnotherType(self) -> None:
        store = RedisJSONStore(self.client, prefix="p:")
        self.server.command("SET", "p:garbage", b"\xff\x00{{")
        await self.refused(store, "garbage", "not JSON")
        self.server.command("SET", "p:list", "[1, 2]")
        await self.refused(store, "list", "not a mapping")
        self.server.command("SET", "p:php", 'name|s:3:"Bob";')
        await self.refused(store, "php", "not JSON")
        self.server.command("HSET", "p:hash", "name", "Bob")
        await self.refused(store, "hash", "WRONGTYPE")


class PipeliningTests(RedisStoreTestCase):
    async def test_manyLookupsShareOneConnection(self) -> None:
        count = 500
        for index in range(count):
            self.server.command("SET", f"p:{index}", json.dumps({"n": index}))
        store = RedisJSONStore(self.client, prefix="p:")
        sessions = await gatherResults([store.load(str(index)) for index in range(count)])
        self.assertEqual(sessions, [{"n": index} for index in range(count)])
        clients = self.server.command("CLIENT", "LIST")
        # This side channel's connection, and the store's one.
        self.assertEqual(len(clients.splitlines()), 2, clients)

    async def test_storeMadeFromAURL(self) -> None:
        store = PHPRedisStore(self.server.url(1))
        self.addCleanup(store.close)
        self.server.command("SELECT", "0")
        await store.client.whenConnected(WAIT)
        self.assertNotIn("password", repr(store))
        self.assertIsNone(await self.load(store, "nosuchsession"))


class UnreachableTests(RedisStoreTestCase):
    async def test_redisDownIsUnavailableAtOnce(self) -> None:
        store = PHPRedisStore(self.client)
        self.server.stop()
        await waitUntil(lambda: not self.client.connected)
        started = time.monotonic()
        try:
            await store.load("abc123")
        except SessionUnavailable as error:
            self.assertIn("RedisUnavailable", str(error))
        else:
            self.fail("a session without Redis")
        self.assertLess(time.monotonic() - started, 0.5)


class HandshakeTests(RedisStoreTestCase):
    """
    C{SessionProvider} over a real socket with a real client (the
    C{websockets} library, in a thread) and Redis stopped: answered at once.
    """

    async def listen(self, required: bool, lookupTimeout: float = DEFAULT_LOOKUP_TIMEOUT) -> None:
        app = SessionProvider(
            Greeter(), PHPRedisStore(self.client), required=required, lookupTimeout=lookupTimeout
        )
        self.port = await listenWebSocket(self, app)

    def talk(self, sid: str) -> list[str]:
        url = f"ws://127.0.0.1:{self.port}/chat"
        headers = {"Cookie": f"PHPSESSID={sid}"}
        with connect(url, additional_headers=headers, open_timeout=WAIT) as ws:
            greeting = ws.recv(timeout=WAIT)
            ws.send("hi")
            return [str(greeting), str(ws.recv(timeout=WAIT))]

    async def test_theLoggedInUserAndRedisDown(self) -> None:
        sid = phpRedisSession(self, self.server.port, "login", "php", "Ada")
        await self.listen(required=True)
        self.assertEqual(await deferToThread(self.talk, sid), ["hello Ada", "Ada: hi"])
        self.server.stop()
        await waitUntil(lambda: not self.client.connected)
        started = time.monotonic()
        try:
            await deferToThread(self.talk, sid)
        except InvalidStatus as refusal:
            self.assertEqual(refusal.response.status_code, 503)
        else:
            self.fail("accepted without Redis")
        self.assertLess(time.monotonic() - started, DEFAULT_LOOKUP_TIMEOUT)

    async def test_redisDownIsAnEmptySessionWhenNotRequired(self) -> None:
        await self.listen(required=False)
        self.server.stop()
        await waitUntil(lambda: not self.client.connected)
        self.assertEqual(await deferToThread(self.talk, "abc123"), ["hello nobody", "nobody: hi"])

    async def test_aRedisThatHangsIsAnsweredWithinTheLookupTimeout(self) -> None:
        """redis-server stopped (SIGSTOP): connected, but no reply ever comes."""
        sid = phpRedisSession(self, self.server.port, "login", "php", "Ada")
        await self.listen(required=True, lookupTimeout=0.5)
        process = self.server._process
        assert process is not None
        os.kill(process.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, process.pid, signal.SIGCONT)
        started = time.monotonic()
        try:
            await deferToThread(self.talk, sid)
        except InvalidStatus as refusal:
            self.assertEqual(refusal.response.status_code, 503)
        else:
            self.fail("accepted without an answer from Redis")
        self.assertLess(time.monotonic() - started, 3.0)
