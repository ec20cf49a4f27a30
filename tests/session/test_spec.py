"""
L{ratchet_tx.session.spec} and C{twistd ratchet --session}: every spec makes
its store, bad specs and missing secrets are one-line usage errors, the
secret comes from a file or the environment and never shows in a store's
repr, and the session layer goes inside the WebSocket layer.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.examples.echo import Echo
from ratchet_tx.session import (
    DjangoCacheStore,
    DjangoSignedCookieStore,
    FlaskCookieStore,
    FlaskSessionRedisStore,
    PHPRedisStore,
    RedisJSONStore,
    SerializeHandler,
    SessionProvider,
    StarletteCookieStore,
)
from ratchet_tx.session.spec import (
    SECRET_VARIABLE,
    SessionSpecError,
    parseSessionSpec,
    readSecret,
)
from ratchet_tx.tap import Options, makeService

SECRET = "s3cret-key-for-the-spec-tests"


class SpecTests(SynchronousTestCase):
    def make(self, spec: str, secret: str | None = None) -> Any:
        store = parseSessionSpec(spec, secret)(MemoryReactorClock())
        close = getattr(store, "close", None)
        if close is not None:
            self.addCleanup(close)
        return store

    def test_redisStores(self) -> None:
        store = self.make("php+redis://127.0.0.1:6390/2?prefix=app:&serializeHandler=php_binary")
        self.assertIsInstance(store, PHPRedisStore)
        self.assertEqual(store.prefix, b"app:")
        self.assertIs(store.serializeHandler, SerializeHandler.PHP_BINARY)
        self.assertEqual(store.client.address.db, 2)
        self.assertEqual(self.make("php+redis://127.0.0.1").prefix, b"PHPREDIS_SESSION:")
        store = self.make("django-cache+redis://127.0.0.1/1?allowPickle=yes&version=3")
        self.assertIsInstance(store, DjangoCacheStore)
        self.assertEqual(store.prefix, b":3:django.contrib.sessions.cache")
        self.assertIsInstance(self.make("flask-session+redis://127.0.0.1"), FlaskSessionRedisStore)
        store = self.make("json+redis://127.0.0.1?prefix=my:&cookieName=sid")
        self.assertIsInstance(store, RedisJSONStore)
        self.assertEqual((store.prefix, store.cookieName), (b"my:", "sid"))
        store = self.make("php+unix:///run/redis.sock?db=4&prefix=p:")
        self.assertEqual((store.client.address.db, store.prefix), (4, b"p:"))

    def test_cookieStores(self) -> None:
        for spec, kind in [
            ("django-signed-cookie", DjangoSignedCookieStore),
            ("flask-cookie", FlaskCookieStore),
            ("starlette-cookie", StarletteCookieStore),
        ]:
            store = self.make(spec, SECRET)
            self.assertIsInstance(store, kind)
            self.assertNotIn(SECRET, repr(store))

    def test_badSpecs(self) -> None:
        for spec, expected in [
            ("memcached://x", "unknown store"),
            ("php+http://127.0.0.1", "unknown store"),
            ("php+redis://127.0.0.1:99999", "port"),
            ("php+redis://127.0.0.1?serializeHandler=igbinary", "serializeHandler"),
            ("django-cache+redis://127.0.0.1", "allowPickle=yes"),
            ("django-cache+redis://127.0.0.1?allowPickle=yes&version=x", "integer"),
            ("json+redis://127.0.0.1", "prefix"),
            ("flask-cookie", SECRET_VARIABLE),
        ]:
            error = self.assertRaises(SessionSpecError, parseSessionSpec, spec, None)
            self.assertIn(expected, str(error), spec)
            self.assertNotIn("\n", str(error))

    def test_secretFromAFileOrTheEnvironment(self) -> None:
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "secret")
        with open(path, "w") as f:
            f.write(SECRET + "\nsecond line ignored\n")
        self.assertEqual(readSecret(path, {SECRET_VARIABLE: "other"}), SECRET)
        self.assertEqual(readSecret(None, {SECRET_VARIABLE: "other"}), "other")
        self.assertIsNone(readSecret(None, {}))
        self.assertRaises(SessionSpecError, readSecret, os.path.join(folder, "none"), {})
        open(path, "w").close()
        self.assertIn("empty", str(self.assertRaises(SessionSpecError, readSecret, path, {})))


class CommandLineTests(SynchronousTestCase):
    def parse(self, *args: str) -> Options:
        options = Options()
        options.parseOptions(["--app", "ratchet_tx.examples.echo:Echo", *args])
        return options

    def test_sessionLayerInsideTheWebSocketLayer(self) -> None:
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "secret")
        with open(path, "w") as f:
            f.write(SECRET)
        options = self.parse(
            "--session", "flask-cookie", "--session-secret-file", path, "--session-required"
        )
        layer = options.layerFor(Echo())
        self.assertIsInstance(layer.app, SessionProvider)
        self.assertTrue(layer.app.required)
        self.assertIsInstance(layer.app.store, FlaskCookieStore)
        self.assertIs(options.sessionStore(), layer.app.store)

    def test_redisClientStopsWithTheService(self) -> None:
        import twisted.internet
        from twisted.internet import reactor  # installed, so that it can be patched

        self.assertIsNotNone(reactor)
        # The client connects through the reactor makeService uses: a fake one.
        self.patch(twisted.internet, "reactor", MemoryReactorClock())
        options = self.parse("--session", "php+redis://127.0.0.1:6390/0")
        service = makeService(options)
        client = options.sessionStore().client
        self.assertIs(client.parent, service)
        self.addCleanup(client.close)

    def test_startsWithTheRedisClient(self) -> None:
        """
        The Redis client beside the listeners is no listener: the service
        starts (twistd's privilegedStartService, then startService) and
        listens on every --listen.
        """
        import twisted.internet
        from twisted.internet import reactor

        self.assertIsNotNone(reactor)
        fake = MemoryReactorClock()
        self.patch(twisted.internet, "reactor", fake)
        options = self.parse(
            "--session", "php+redis://127.0.0.1:6390/0",
            "--listen", "tcp:8090:interface=127.0.0.1", "--listen", "tcp:8091",
        )  # fmt: skip
        service = makeService(options)
        self.addCleanup(options.sessionStore().client.close)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual([port for port, *_ in fake.tcpServers], [8090, 8091])
        self.assertTrue(options.sessionStore().client.running)

    def test_usageErrors(self) -> None:
        for args, expected in [
            (["--session", "flask-cookie"], SECRET_VARIABLE),
            (["--session-required"], "need --session"),
            (["--session", "nope"], "unknown store"),
        ]:
            error = self.assertRaises(usage.UsageError, self.parse, *args)
            self.assertIn(expected, str(error))
