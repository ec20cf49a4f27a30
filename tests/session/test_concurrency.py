"""
Many handshakes' session lookups at once, over real loopback sockets, with
C{SessionProvider(Greeter(), PHPRedisStore(...), required=True)} serving:

  - K handshakes started together send their K C{GET}s down the store's one
    Redis connection before any reply comes back (pipelined), against a
    Redis protocol server of the test's own that holds its replies until it
    has them all; and against a real C{redis-server}, which sees one client;
  - a lookup held back by the store delays only the handshake waiting for
    it: handshakes that come after it are answered, and connections already
    open exchange messages, meanwhile.

The clients are Twisted protocols in the test's own reactor (no threads),
each sending a raw RFC 6455 opening request with its cookie.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.endpoints import (
    TCP4ClientEndpoint,
    TCP4ServerEndpoint,
    connectProtocol,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from ratchet_tx.redis import RedisClient
from ratchet_tx.redis.resp import ReplyParser
from ratchet_tx.session import ISessionStore, PHPRedisStore, SessionProvider
from ratchet_tx.websocket.codecs import hybi
from tests.redis.helpers import encodeReply
from tests.session.helpers import Greeter, listenWebSocket
from tests.support.redisserver import RedisServer

#: A bound on every wait (the machine is shared).
WAIT = 10.0

#: Handshakes started at once.
K = 64

#: phpredis's key prefix.
PREFIX = b"PHPREDIS_SESSION:"


def phpSession(name: str) -> bytes:
    """What PHP's C{session_encode()} writes for C{$_SESSION['name'] = name}."""
    return b'name|s:%d:"%s";' % (len(name), name.encode())


def sid(index: int) -> str:
    """A PHP session id (26 characters of C{[0-9a-v]})."""
    return f"{index:026d}"


async def waitUntil(condition: Callable[[], bool], what: str) -> None:
    """Poll C{condition()} on the running reactor, for at most L{WAIT} seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT} s: {what}")
        await deferLater(reactor, 0.005)


class WebSocketClient(Protocol):
    """
    Sends the opening handshake with a C{PHPSESSID} cookie; collects the
    answer's status and the server's text messages.

    @ivar status: the answer's status code, once its head arrived.
    @ivar messages: the text messages received since.
    """

    def __init__(self, cookie: str) -> None:
        self.cookie = cookie
        self.received = b""
        self.status: int | None = None
        self.messages: list[str] = []
        self.closed = False
        self._decoder = hybi.FrameDecoder(maxMessageSize=1 << 16, expectMasked=False)

    def connectionMade(self) -> None:
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        self.transport.write(  # type: ignore[union-attr]
            (
                "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nCookie: PHPSESSID={self.cookie}\r\n\r\n"
            ).encode("ascii")
        )

    def dataReceived(self, data: bytes) -> None:
        if self.status is None:
            self.received += data
            head, end, data = self.received.partition(b"\r\n\r\n")
            if not end:
                return
            self.status = int(head.split(b" ", 2)[1])
        for event in self._decoder.feed(data):
            if isinstance(event, str):
                self.messages.append(event)

    def send(self, text: str) -> None:
        """One masked text frame."""
        frame = hybi.encodeFrame(hybi.Opcode.TEXT, text.encode(), mask=os.urandom(4))
        self.transport.write(frame)  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed = True


class ConcurrencyTestCase(TestCase):
    timeout = 60

    async def listen(self, store: Any) -> None:
        app = SessionProvider(Greeter(), store, required=True)
        self.port = await listenWebSocket(self, app)

    def connect(self, cookie: str) -> Deferred[WebSocketClient]:
        """Connect a client (its request goes out at once)."""
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port, timeout=WAIT)
        client = WebSocketClient(cookie)
        self.addCleanup(self.disconnect, client)
        return connectProtocol(endpoint, client)

    @staticmethod
    def disconnect(client: WebSocketClient) -> Deferred[None]:
        if client.closed or client.transport is None:
            return succeed(None)
        client.transport.abortConnection()  # type: ignore[attr-defined]
        return deferLater(reactor, 0.01)

    async def greeted(self, client: WebSocketClient) -> list[str]:
        await waitUntil(lambda: bool(client.messages) or client.closed, "a greeting")
        self.assertEqual(client.status, 101)
        return client.messages


class HoldingRedis(Protocol):
    """
    A Redis server for one test: answers the client's C{PING} at once, then
    holds the replies to C{GET}s until C{factory.expected} of them have
    arrived (or L{WAIT} seconds passed), and sends them all in one write.
    """

    factory: HoldingRedisFactory

    def connectionMade(self) -> None:
        self.factory.connections += 1
        self.parser = ReplyParser()
        self.held: list[bytes] = []
        self.timer = reactor.callLater(WAIT, self.answer)  # type: ignore[attr-defined]

    def dataReceived(self, data: bytes) -> None:
        for command in self.parser.feed(data):
            assert isinstance(command, list)
            name = command[0].upper()
            if name == b"PING":
                self.transport.write(b"+PONG\r\n")  # type: ignore[union-attr]
            elif name == b"GET":
                self.held.append(command[1])
                if len(self.held) == self.factory.expected:
                    self.answer()
            else:
                self.transport.write(b"-ERR not here\r\n")  # type: ignore[union-attr]

    def answer(self) -> None:
        if self.timer.active():
            self.timer.cancel()
        self.factory.heldAtFirstReply.append(len(self.held))
        keys, self.held = self.held, []
        replies = [self.factory.sessions.get(key) for key in keys]
        self.factory.keys += keys
        self.transport.write(b"".join(encodeReply(reply) for reply in replies))  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.timer.active():
            self.timer.cancel()


class HoldingRedisFactory(Factory):
    protocol = HoldingRedis  # type: ignore[assignment]

    def __init__(self, sessions: dict[bytes, bytes], expected: int) -> None:
        self.sessions = sessions
        self.expected = expected
        self.connections = 0
        self.heldAtFirstReply: list[int] = []
        self.keys: list[bytes] = []


class PipelinedTests(ConcurrencyTestCase):
    async def test_lookupsOfManyHandshakesArePipelinedOnOneConnection(self) -> None:
        sessions = {PREFIX + sid(i).encode(): phpSession(f"user-{i}") for i in range(K)}
        fake = HoldingRedisFactory(sessions, expected=K)
        listening = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(fake)
        self.addCleanup(listening.stopListening)
        client = RedisClient(reactor, f"redis://127.0.0.1:{listening.getHost().port}/0")
        self.addCleanup(client.close)
        await client.whenConnected(WAIT)
        await self.listen(PHPRedisStore(client))

        clients = await gatherResults([self.connect(sid(i)) for i in range(K)])
        greetings = await gatherResults([Deferred.fromCoroutine(self.greeted(c)) for c in clients])

        # Every GET was sent before any reply came: one batch of K.
        self.assertEqual(fake.heldAtFirstReply, [K])
        self.assertEqual(fake.connections, 1)
        self.assertEqual(sorted(fake.keys), sorted(sessions))
        # ... and each reply went to its own handshake.
        self.assertEqual(greetings, [[f"hello user-{i}"] for i in range(K)])

    async def test_aRealRedisSeesOneClient(self) -> None:
        server = RedisServer.start()
        self.addCleanup(server.stop)
        for i in range(K):
            server.command("SET", PREFIX + sid(i).encode(), phpSession(f"user-{i}"))
        store = PHPRedisStore(server.url())
        self.addCleanup(store.close)
        await store.client.whenConnected(WAIT)
        await self.listen(store)
        before = server.command("INFO", "stats")
        assert isinstance(before, bytes)

        clients = await gatherResults([self.connect(sid(i)) for i in range(K)])
        greetings = await gatherResults([Deferred.fromCoroutine(self.greeted(c)) for c in clients])

        self.assertEqual(greetings, [[f"hello user-{i}"] for i in range(K)])
        connected = server.command("CLIENT", "LIST")
        assert isinstance(connected, bytes)
        # The store's connection, and this one.
        self.assertEqual(len(connected.strip().splitlines()), 2, connected)
        self.assertEqual(stat(server, "keyspace_hits") - stat(before, "keyspace_hits"), K)


def stat(info: Any, name: str) -> int:
    """A field of C{INFO} (given, or asked of a L{RedisServer})."""
    if isinstance(info, RedisServer):
        info = info.command("INFO", "stats")
    for line in info.decode().splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return int(value)
    raise AssertionError(f"no {name} in INFO")


@implementer(ISessionStore)
class HeldStore:
    """
    A store in front of another that holds back the lookups of the cookies
    in C{held} until L{release}.
    """

    cookieName = "PHPSESSID"

    def __init__(self, inner: Any, held: set[str]) -> None:
        self.inner = inner
        self.held = held
        self.waiting: list[tuple[str, Deferred[Any]]] = []

    def load(self, cookieValue: str) -> Deferred[Any]:
        if cookieValue not in self.held:
            return self.inner.load(cookieValue)  # type: ignore[no-any-return]
        d: Deferred[Any] = Deferred()
        self.waiting.append((cookieValue, d))
        return d

    def release(self) -> None:
        waiting, self.waiting = self.waiting, []
        for cookieValue, d in waiting:
            self.inner.load(cookieValue).chainDeferred(d)


class SlowStoreTests(ConcurrencyTestCase):
    async def test_aSlowLookupDelaysOnlyItsOwnHandshake(self) -> None:
        server = RedisServer.start()
        self.addCleanup(server.stop)
        for index, name in enumerate(["Ada", "Bo", "Cy"]):
            server.command("SET", PREFIX + sid(index).encode(), phpSession(name))
        inner = PHPRedisStore(server.url())
        self.addCleanup(inner.close)
        await inner.client.whenConnected(WAIT)
        store = HeldStore(inner, held={sid(1)})
        await self.listen(store)

        ada = await self.connect(sid(0))
        self.assertEqual(await self.greeted(ada), ["hello Ada"])
        bo = await self.connect(sid(1))
        await waitUntil(lambda: bool(store.waiting), "Bo's lookup asked for")

        # Meanwhile: a new handshake is answered, open connections talk.
        cy = await self.connect(sid(2))
        self.assertEqual(await self.greeted(cy), ["hello Cy"])
        ada.send("hi")
        cy.send("yo")
        await waitUntil(lambda: len(ada.messages) == 2 and len(cy.messages) == 2, "echoes")
        self.assertEqual(ada.messages[1:] + cy.messages[1:], ["Ada: hi", "Cy: yo"])
        self.assertEqual((bo.status, bo.received, bo.closed), (None, b"", False))

        store.release()
        self.assertEqual(await self.greeted(bo), ["hello Bo"])
        bo.send("at last")
        await waitUntil(lambda: len(bo.messages) == 2, "Bo's echo")
        self.assertEqual(bo.messages[1], "Bo: at last")
