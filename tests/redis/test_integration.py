"""
The Redis client and subscriber against a real C{redis-server} (Debian's, on
a free loopback port, started and stopped by the tests): pipelining, AUTH
with a password and an ACL user, SELECT, UNIX sockets, error replies, Lua
scripts, pub/sub order, an outage under traffic, a server that never
answers, and nothing left behind after C{close()} (trial's dirty-reactor
check runs after every test here, under pytest too).
"""

from __future__ import annotations

import os
import time
from typing import Any

from twisted.application.service import MultiService
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from ratchet_tx.redis import (
    Backoff,
    RedisClient,
    RedisError,
    RedisSubscriber,
    RedisTimeout,
    RedisUnavailable,
    Script,
)
from ratchet_tx.redis.resp import ReplyParser
from tests.support.apps import LogCapture
from tests.support.redisserver import RedisServer
from tests.websocket.helpers import loggedLines, logMessages

#: Generous, for a machine shared with other test runs.
WAIT = 10.0

#: Quick retries, so that a restarted server is found again at once.
QUICK = Backoff(initialDelay=0.05, maxDelay=0.2)


async def waitFor(condition: Any, timeout: float = WAIT, what: str = "condition") -> None:
    """Poll C{condition()} on the running reactor until it is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await deferLater(reactor, 0.01)


def openFds() -> int:
    return len(os.listdir("/proc/self/fd"))


def ourTimers() -> list[Any]:
    """The reactor's pending calls that ratchet_tx scheduled (not trial's)."""
    return [
        call
        for call in reactor.getDelayedCalls()  # type: ignore[attr-defined]
        if getattr(getattr(call, "func", None), "__module__", "").startswith("ratchet_tx.")
    ]


class RedisTestCase(TestCase):
    timeout = 120

    def setUp(self) -> None:
        self.log = LogCapture(self)

    def startServer(self, *args: str, password: str | None = None) -> RedisServer:
        server = RedisServer.start(*args, password=password)
        self.addCleanup(server.stop)
        return server

    def client(self, url: str, **options: Any) -> RedisClient:
        options.setdefault("backoff", QUICK)
        client = RedisClient(reactor, url, **options)
        self.addCleanup(client.close)
        return client

    def subscriber(self, url: str, onMessage: Any, **options: Any) -> RedisSubscriber:
        options.setdefault("backoff", QUICK)
        subscriber = RedisSubscriber(reactor, url, onMessage, **options)
        self.addCleanup(subscriber.close)
        return subscriber

    async def connectedClient(self, url: str, **options: Any) -> RedisClient:
        client = self.client(url, **options)
        await client.whenConnected(WAIT)
        return client


class CommandTests(RedisTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.server = self.startServer()

    async def test_thousandConcurrentGets(self) -> None:
        """
        A thousand GETs at once on one connection (the server sees one
        client), each answered with its own value.
        """
        client = await self.connectedClient(self.server.url())
        await gatherResults([client.set(f"key:{i}", f"value:{i}") for i in range(1000)])
        values = await gatherResults([client.get(f"key:{i}") for i in range(1000)])
        self.assertEqual(values, [b"value:%d" % i for i in range(1000)])
        clients = self.server.command("CLIENT", "LIST")
        assert isinstance(clients, bytes)
        # Ours, and the one that asks.
        self.assertEqual(len(clients.strip().splitlines()), 2)

    async def test_replyTypes(self) -> None:
        client = await self.connectedClient(self.server.url())
        self.assertEqual(await client.ping(), "PONG")
        self.assertEqual(await client.set("n", 41), "OK")
        self.assertEqual(await client.execute("INCR", "n"), 42)
        self.assertIsNone(await client.get("missing"))
        await client.execute("RPUSH", "list", "a", b"\x00\r\n", 3, 1.5)
        self.assertEqual(
            await client.execute("LRANGE", "list", 0, -1), [b"a", b"\x00\r\n", b"3", b"1.5"]
        )
        self.assertEqual(await client.execute("LRANGE", "nothing", 0, -1), [])
        self.assertIsNone(await client.set("n", 1, nx=True))
        self.assertEqual(await client.delete("n", "list", "missing"), 2)
        nested = await client.execute("EVAL", "return {1, {'a', {2}}, 'b'}", 0)
        self.assertEqual(nested, [1, [b"a", [2]], b"b"])

    async def test_errorReplies(self) -> None:
        """An error reply fails its command; the connection carries on."""
        client = await self.connectedClient(self.server.url())
        await client.set("text", "abc")
        results = await gatherResults(
            [
                client.execute("INCR", "text").addErrback(lambda f: f.value),
                client.execute("LPUSH", "text", "x").addErrback(lambda f: f.value),
                client.execute("NOSUCHCOMMAND").addErrback(lambda f: f.value),
                client.get("text"),
            ]
        )
        self.assertEqual([type(r) for r in results[:3]], [RedisError] * 3)
        self.assertEqual([r.code for r in results[:3]], ["ERR", "WRONGTYPE", "ERR"])
        self.assertEqual(results[3], b"abc")
        self.assertTrue(client.connected)

    async def test_select(self) -> None:
        three = await self.connectedClient(self.server.url(db=3))
        zero = await self.connectedClient(self.server.url(db=0))
        await three.set("where", "three")
        self.assertIsNone(await zero.get("where"))
        self.assertIn(b" db=3 ", await three.execute("CLIENT", "INFO"))

    async def test_unixSocket(self) -> None:
        client = await self.connectedClient(self.server.unixURL(db=2))
        self.assertEqual(await client.ping(), "PONG")
        info = await client.execute("CLIENT", "INFO")
        self.assertIn(b" db=2 ", info)
        self.assertIn(b"laddr=" + self.server.unixURL().split("//")[1].split("?")[0].encode(), info)

    async def test_scripts(self) -> None:
        """
        The first run of a script the server does not know yet falls back
        to EVAL, which caches it; after SCRIPT FLUSH it is sent again.
        """
        client = await self.connectedClient(self.server.url())
        script = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        self.assertEqual(await client.execute("SCRIPT", "EXISTS", script.sha1), [0])
        self.assertEqual(await client.runScript(script, keys=["n"], args=[2]), 2)
        self.assertEqual(await client.execute("SCRIPT", "EXISTS", script.sha1), [1])
        self.assertEqual(await client.runScript(script, keys=["n"], args=[3]), 5)
        await client.execute("SCRIPT", "FLUSH")
        self.assertEqual(await client.runScript(script, keys=["n"], args=[1]), 6)
        with self.assertRaises(RedisError):
            await client.runScript(Script("return redis.call('NOPE')"))

    async def test_stoppedByItsParentService(self) -> None:
        parent = MultiService()
        client = await self.connectedClient(self.server.url())
        client.setServiceParent(parent)
        parent.startService()
        pending = client.get("k")
        await parent.stopService()
        self.assertIsNone(await pending)
        self.assertFalse(client.connected)


class IPv6Tests(RedisTestCase):
    async def test_ipv6Literal(self) -> None:
        server = self.startServer("--bind", "127.0.0.1", "::1")
        client = await self.connectedClient(f"redis://[::1]:{server.port}/4")
        info = await client.execute("CLIENT", "INFO")
        self.assertIn(b" db=4 ", info)
        self.assertIn(b"laddr=[::1]:%d " % server.port, info)


class AuthTests(RedisTestCase):
    SECRET = "s3cret:with@odd/chars"

    def setUp(self) -> None:
        super().setUp()
        self.server = self.startServer(password=self.SECRET)

    async def test_password(self) -> None:
        client = await self.connectedClient(self.server.url(db=1))
        self.assertEqual(await client.set("k", "v"), "OK")

    async def test_aclUser(self) -> None:
        self.server.command("ACL", "SETUSER", "alice", "on", ">alice-pw", "~*", "+@all")
        client = await self.connectedClient(
            f"redis://alice:alice-pw@127.0.0.1:{self.server.port}/0"
        )
        self.assertEqual(await client.execute("ACL", "WHOAMI"), b"alice")

    async def test_wrongPassword(self) -> None:
        client = self.client(self.server.url(password="wrong-one"))
        with self.assertRaises(RedisUnavailable) as caught:
            await client.whenConnected(1.0)
        self.assertIn("AUTH failed: WRONGPASS", str(caught.exception))
        [line] = loggedLines(self.log, "unavailable at")
        self.assertIn(f"redis://:***@127.0.0.1:{self.server.port}/0", line)
        for line in logMessages(self.log):
            self.assertNotIn("wrong-one", line)
            self.assertNotIn(self.SECRET, line)

    async def test_noPassword(self) -> None:
        client = self.client(f"redis://127.0.0.1:{self.server.port}")
        with self.assertRaises(RedisUnavailable) as caught:
            await client.whenConnected(1.0)
        self.assertIn("PING failed: NOAUTH", str(caught.exception))


class PubSubTests(RedisTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.server = self.startServer()
        self.messages: list[tuple[bytes, bytes]] = []

    async def test_order(self) -> None:
        """Messages on several channels arrive in the order they were published."""
        subscriber = self.subscriber(self.server.url(), lambda c, d: self.messages.append((c, d)))
        await subscriber.whenConnected(WAIT)
        await subscriber.subscribe("a", "b")
        await subscriber.psubscribe("p:*")
        publisher = await self.connectedClient(self.server.url())
        channels = [b"a", b"b", b"p:1"]
        sent = [(channels[i % 3], b"%d" % i) for i in range(3000)]
        receivers = await gatherResults([publisher.publish(c, d) for c, d in sent])
        self.assertEqual(set(receivers), {1})
        await waitFor(lambda: len(self.messages) == len(sent), what="every message")
        self.assertEqual(self.messages, sent)

    async def test_unsubscribe(self) -> None:
        subscriber = self.subscriber(self.server.url(), lambda c, d: self.messages.append((c, d)))
        await subscriber.whenConnected(WAIT)
        await subscriber.subscribe("a", "b")
        await subscriber.unsubscribe("a")
        publisher = await self.connectedClient(self.server.url())
        self.assertEqual(await publisher.publish("a", "x"), 0)
        self.assertEqual(await publisher.publish("b", "y"), 1)
        await waitFor(lambda: self.messages, what="a message")
        self.assertEqual(self.messages, [(b"b", b"y")])


class OutageTests(RedisTestCase):
    async def test_outageUnderTraffic(self) -> None:
        """
        Redis stops under traffic: commands fail fast with RedisUnavailable
        and each object logs one line.  Redis comes back (empty, on the same
        port): the client and the subscriber are back by themselves, the
        subscriber resubscribed and called onReconnect, and each logs one
        line more.
        """
        server = self.startServer()
        messages: list[bytes] = []
        reconnects: list[bool] = []
        subscriber = self.subscriber(
            server.url(),
            lambda c, d: messages.append(d),
            onReconnect=lambda: reconnects.append(True),
        )
        client = await self.connectedClient(server.url())
        await subscriber.whenConnected(WAIT)
        await subscriber.subscribe("news")

        failures: list[tuple[float, Any]] = []
        sent = 0

        def traffic() -> None:
            # A GET every 5 ms, each timing how long its failure took.
            nonlocal sent
            sent += 1
            started = time.monotonic()
            client.get("k").addErrback(
                lambda f: failures.append((time.monotonic() - started, f.value))
            )
            calls.append(reactor.callLater(0.005, traffic))

        calls: list[Any] = []
        traffic()
        self.addCleanup(lambda: [c.cancel() for c in calls if c.active()])
        await deferLater(reactor, 0.1)
        self.assertEqual(failures, [])

        server.stop()
        await waitFor(lambda: len(failures) >= 20, what="failed commands")
        self.assertFalse(client.connected)
        self.assertTrue(all(isinstance(error, RedisUnavailable) for _, error in failures))
        # Fast: none waited anything like the command timeout.
        self.assertLess(max(elapsed for elapsed, _ in failures), 1.0)
        await deferLater(reactor, 0.5)  # several retries, still one line each
        self.assertEqual(len(loggedLines(self.log, "Redis client unavailable at")), 1)
        self.assertEqual(len(loggedLines(self.log, "Redis subscriber unavailable at")), 1)

        server.restart()
        await client.whenConnected(WAIT)
        await subscriber.whenConnected(WAIT)
        self.assertEqual(reconnects, [True])
        self.assertEqual(subscriber.channels, {b"news"})
        self.assertEqual(await client.publish("news", "back"), 1)
        await waitFor(lambda: messages, what="the message after the restart")
        self.assertEqual(messages, [b"back"])
        [ended] = loggedLines(self.log, "Redis client connected to")
        failedMeanwhile = int(ended.rsplit(": ", 1)[1])
        self.assertEqual(failedMeanwhile, len(failures))
        self.assertEqual(len(loggedLines(self.log, "Redis subscriber connected to")), 1)
        self.assertEqual(len(loggedLines(self.log, "unavailable at")), 2)
        for call in calls:
            if call.active():
                call.cancel()
        self.assertIsNone(await client.get("k"))


class SilentServer(Protocol):
    """Answers the handshake's PING, then reads everything and answers nothing."""

    factory: SilentFactory

    def connectionMade(self) -> None:
        self.factory.connections.append(self)
        self.parser = ReplyParser()
        self.answered = False

    def dataReceived(self, data: bytes) -> None:
        self.factory.received.extend(self.parser.feed(data))
        if not self.answered:
            self.answered = True
            self.transport.write(b"+PONG\r\n")  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.factory.lost += 1


class SilentFactory(ServerFactory):
    protocol = SilentServer  # type: ignore[assignment]

    def __init__(self) -> None:
        self.connections: list[SilentServer] = []
        self.received: list[object] = []
        self.lost = 0


class SilentServerTests(RedisTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.factory = SilentFactory()
        self.port: Any = reactor.listenTCP(0, self.factory, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(self.stopServer)

    async def stopServer(self) -> None:
        for connection in self.factory.connections:
            connection.transport.abortConnection()  # type: ignore[union-attr]
        await self.port.stopListening()
        await waitFor(
            lambda: self.factory.lost == len(self.factory.connections),
            what="the fake server's connections closed",
        )

    async def test_commandTimesOutAndConnectionIsReplaced(self) -> None:
        url = f"redis://127.0.0.1:{self.port.getHost().port}"
        client = await self.connectedClient(url, commandTimeout=0.5)
        started = time.monotonic()
        first = client.get("never")
        second = client.get("answered")
        with self.assertRaises(RedisTimeout):
            await first
        with self.assertRaises(RedisUnavailable):
            await second
        self.assertGreaterEqual(time.monotonic() - started, 0.45)
        await waitFor(lambda: len(self.factory.connections) == 2, what="a new connection")
        await client.whenConnected(WAIT)
        self.assertEqual(self.factory.lost, 1)
        self.assertEqual(
            self.factory.received,
            [[b"PING"], [b"GET", b"never"], [b"GET", b"answered"], [b"PING"]],
        )
        [line] = loggedLines(self.log, "unavailable at")
        self.assertIn("(no reply within 0.5 s)", line)


class LeakTests(RedisTestCase):
    async def test_nothingLeftAfterClose(self) -> None:
        """
        After close(): no file descriptor more than before, no timer; and
        the same for an object closed while Redis is down (reconnecting).
        """
        server = self.startServer()
        # The reactor opens a pipe of its own on its first connection; count
        # from the second one on.
        warmUp = RedisClient(reactor, server.url())
        await warmUp.whenConnected(WAIT)
        await warmUp.close()
        before = openFds()
        for _ in range(3):
            client = RedisClient(reactor, server.url(), backoff=QUICK)
            subscriber = RedisSubscriber(reactor, server.url(), print, backoff=QUICK)
            await client.whenConnected(WAIT)
            await subscriber.whenConnected(WAIT)
            await subscriber.subscribe("x")
            await gatherResults([client.get("k") for _ in range(100)])
            await gatherResults([client.close(), subscriber.close()])
        self.assertEqual(openFds(), before)
        self.assertEqual(ourTimers(), [])

        server.stop()
        client = RedisClient(reactor, server.url(), backoff=QUICK)
        subscriber = RedisSubscriber(reactor, server.url(), print, backoff=QUICK)
        await deferLater(reactor, 0.3)
        await gatherResults([client.close(), subscriber.close()])
        self.assertEqual(openFds(), before)
        self.assertEqual(ourTimers(), [])

    async def test_closeWhileConnecting(self) -> None:
        server = self.startServer()
        client = RedisClient(reactor, server.url())
        closed: Deferred[None] = client.close()
        await closed
        self.assertFalse(client.connected)
