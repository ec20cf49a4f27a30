"""
Tests for L{ratchet_tx.client.service}: a L{ClientService} against
ratchet_tx's own server on loopback, on the real reactor.
"""

from __future__ import annotations

import os
import time
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import SynchronousTestCase, TestCase

from ratchet_tx.client import ClientConnection, ClientService, HandshakeRefused
from ratchet_tx.commands import SendMessage
from ratchet_tx.redis.backoff import Backoff
from ratchet_tx.server import Server
from ratchet_tx.websocket import HandshakeError, WebSocket
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from tests.support.apps import RecordingApplication
from tests.support.transport import listenTCP

#: A bound on every wait of these tests.
WAIT = 10.0

#: Quick retries without randomness.
QUICK = Backoff(initialDelay=0.02, maxDelay=0.16, jitter=0.0)


async def waitFor(condition: Any, what: str, timeout: float = WAIT) -> None:
    """Poll C{condition()} on the running reactor until it is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await deferLater(reactor, 0.01)


def openFds() -> int:
    """
    How many sockets the process has open (the reactor's own pipes come and
    go with it: they are not counted).
    """
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass  # the listing's own descriptor, closed meanwhile
    return count


def ratchetTimers() -> list[Any]:
    """
    The reactor's pending calls that ratchet_tx or the service scheduled:
    not trial's, nor the tests' own waits (a Deferred's callback).
    """
    return [
        call
        for call in reactor.getDelayedCalls()  # type: ignore[attr-defined]
        if not isinstance(getattr(call.func, "__self__", None), Deferred)
        and not getattr(call.func, "__module__", "").startswith("twisted.trial")
    ]


class EchoServer:
    """An echo server on a loopback port that can be stopped and started again."""

    def __init__(self, test: TestCase, port: int = 0, **settings: Any) -> None:
        self.app = RecordingApplication(onMessage=lambda conn, m: SendMessage(conn, m))
        self.factory = Server(WebSocket(self.app, **settings))
        self.listening = listenTCP(reactor, port, self.factory, interface="127.0.0.1")
        self.port: int = self.listening.getHost().port
        test.addCleanup(self.stop)

    async def stop(self) -> None:
        """Stop listening and drop every client."""
        if self.listening is not None:
            listening, self.listening = self.listening, None
            await listening.stopListening()
        for proto in list(self.factory.protocols):
            proto.transport.abortConnection()
        await waitFor(lambda: not self.factory.protocols, "the server's clients gone")

    def start(self) -> None:
        self.listening = listenTCP(reactor, self.port, self.factory, interface="127.0.0.1")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/echo"


class ServiceTestCase(TestCase):
    timeout = 60

    def service(self, url: str, app: Any = None, **options: Any) -> ClientService:
        options.setdefault("retryPolicy", QUICK.delay)
        self.clientApp = app if app is not None else RecordingApplication()
        service = ClientService(reactor, url, self.clientApp, **options)
        service.startService()
        self.addCleanup(lambda: service.stopService() if service.running else None)
        return service

    def opens(self) -> int:
        return self.clientApp.callbacks().count("onOpen")

    def closes(self) -> int:
        return self.clientApp.callbacks().count("onClose")


class ConnectingTests(ServiceTestCase):
    async def test_connectsAndSends(self) -> None:
        server = EchoServer(self)
        service = self.service(server.url)
        conn = await service.whenConnected()
        self.assertIsInstance(conn, ClientConnection)
        self.assertEqual(self.clientApp.callbacks(), ["onOpen"])
        conn.send("hello")
        await waitFor(lambda: ("onMessage", conn, "hello") in self.clientApp.events, "the echo")
        self.assertIs(await service.whenConnected(), conn)

    async def test_reconnectsAfterTheServerDropsIt(self) -> None:
        server = EchoServer(self)
        service = self.service(server.url)
        first = await service.whenConnected()
        [serverConn] = server.app.events[0][1:2]
        serverConn.close(CloseCode.GOING_AWAY, "bye")
        await waitFor(lambda: self.opens() == 2, "a second connection")
        second = await service.whenConnected()
        self.assertIsNot(second, first)
        self.assertEqual(first.closeCode, CloseCode.GOING_AWAY)
        self.assertEqual(self.clientApp.callbacks(), ["onOpen", "onClose", "onOpen"])
        second.send("again")
        await waitFor(lambda: ("onMessage", second, "again") in self.clientApp.events, "echo")

    async def test_reconnectsAfterAnAbort(self) -> None:
        server = EchoServer(self)
        service = self.service(server.url)
        await service.whenConnected()
        for proto in list(server.factory.protocols):
            proto.transport.abortConnection()
        await waitFor(lambda: self.opens() == 2, "a second connection")
        self.assertEqual(self.closes(), 1)

    async def test_reconnectsAfterTheServerRestarts(self) -> None:
        server = EchoServer(self)
        attempts: list[int] = []

        def policy(failures: int) -> float:
            attempts.append(failures)
            return QUICK.delay(failures)

        service = self.service(server.url, retryPolicy=policy)
        await service.whenConnected()
        await server.stop()
        await waitFor(lambda: len(attempts) >= 4, "failed attempts while the server is down")
        self.assertEqual(self.opens(), 1)
        self.assertEqual(self.closes(), 1)
        server.start()
        conn = await service.whenConnected()
        self.assertEqual(self.opens(), 2)
        self.assertEqual(attempts[:4], [1, 2, 3, 4])
        conn.send("back")
        await waitFor(lambda: ("onMessage", conn, "back") in self.clientApp.events, "echo")

    async def test_backoffGrows(self) -> None:
        """Each failed attempt in a row waits longer, up to the maximum."""
        server = EchoServer(self)
        await server.stop()
        started: list[float] = []

        def policy(failures: int) -> float:
            started.append(time.monotonic())
            return QUICK.delay(failures)

        self.service(server.url, retryPolicy=policy)
        await waitFor(lambda: len(started) >= 5, "five failed attempts")
        gaps = [b - a for a, b in zip(started, started[1:], strict=False)]
        # 0.02, 0.04, 0.08, 0.16 s: each gap at least its wait, and growing.
        for gap, wait in zip(gaps[:3], (0.02, 0.04, 0.08), strict=True):
            self.assertGreaterEqual(gap, wait)
        self.assertGreater(gaps[3], gaps[0])

    async def test_refusedHandshakeIsRetried(self) -> None:
        refusals: list[object] = []

        def refuse(conn: Any) -> None:
            refusals.append(conn)
            if len(refusals) < 3:
                raise HandshakeError(503, "not yet")

        server = EchoServer(self, onHandshake=refuse)
        service = self.service(server.url)
        failure = await _failure(service.whenConnected(failAfterFailures=1))
        self.assertIsInstance(failure, HandshakeRefused)
        self.assertEqual(failure.status, 503)
        conn = await service.whenConnected()
        self.assertEqual(len(refusals), 3)
        self.assertIsInstance(conn, ClientConnection)
        self.assertEqual(self.clientApp.callbacks(), ["onOpen"])

    async def test_failAfterFailures(self) -> None:
        server = EchoServer(self)
        await server.stop()
        service = self.service(server.url)
        failure = await _failure(service.whenConnected(failAfterFailures=2))
        self.assertIsInstance(failure, ConnectionRefusedError)

    async def test_plainTCP(self) -> None:
        app = RecordingApplication(onMessage=lambda conn, m: SendMessage(conn, m))
        factory = Server(app)
        listening = listenTCP(reactor, 0, factory, interface="127.0.0.1")
        self.addCleanup(listening.stopListening)
        service = self.service(f"tcp://127.0.0.1:{listening.getHost().port}")
        conn = await service.whenConnected()
        conn.send(b"raw")
        await waitFor(lambda: ("onMessage", conn, b"raw") in self.clientApp.events, "echo")
        await service.stopService()
        await waitFor(lambda: not factory.protocols, "the server's connection gone")


class StoppingTests(ServiceTestCase):
    async def test_stopClosesWithGoingAway(self) -> None:
        server = EchoServer(self)
        fds = openFds()
        service = self.service(server.url)
        conn = await service.whenConnected()
        [serverConn] = server.app.events[0][1:2]
        await service.stopService()
        # The closing handshake is done, both ways, when stopService fires.
        self.assertEqual(self.clientApp.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(conn.closeCode, CloseCode.GOING_AWAY)
        await waitFor(lambda: "onClose" in server.app.callbacks(), "the server's onClose")
        self.assertEqual(serverConn.closeCode, CloseCode.GOING_AWAY)
        self.assertEqual(ratchetTimers(), [])
        await waitFor(lambda: openFds() == fds, "the sockets closed")
        await deferLater(reactor, 0.1)
        self.assertEqual(self.opens(), 1, "no reconnection after the stop")

    async def test_stopWhileWaitingToRetry(self) -> None:
        server = EchoServer(self)
        await server.stop()
        fds = openFds()
        attempts: list[int] = []
        service = self.service(
            server.url,
            retryPolicy=lambda n: attempts.append(n) or 30.0,  # type: ignore[func-returns-value]
        )
        await waitFor(lambda: attempts, "a failed attempt")
        await service.stopService()
        self.assertEqual(ratchetTimers(), [])
        self.assertEqual(openFds(), fds)

    async def test_stopDuringTheHandshake(self) -> None:
        """A server that never answers: the attempt is dropped, nothing left behind."""
        silent = Factory.forProtocol(Protocol)
        listening = listenTCP(reactor, 0, silent, interface="127.0.0.1")
        self.addCleanup(listening.stopListening)
        fds = openFds()
        service = self.service(f"ws://127.0.0.1:{listening.getHost().port}/")
        waiting = service.whenConnected()
        await deferLater(reactor, 0.2)
        await service.stopService()
        self.assertIsInstance(await _failure(waiting), CancelledError)
        await waitFor(lambda: openFds() <= fds and not ratchetTimers(), "the attempt gone")
        self.assertEqual(self.clientApp.callbacks(), [])

    async def test_stopNeverStarted(self) -> None:
        service = ClientService(reactor, "ws://127.0.0.1:9/", RecordingApplication())
        self.assertIsNone(await service.stopService())
        self.assertIsInstance(await _failure(service.whenConnected()), CancelledError)


class ArgumentTests(SynchronousTestCase):
    def test_checkedWhenMade(self) -> None:
        app = RecordingApplication()
        with self.assertRaises(ValueError):
            ClientService(reactor, "ws://127.0.0.1:9/", app, version="hixie-77")
        with self.assertRaises(TypeError):
            ClientService(reactor, "ws://127.0.0.1:9/", app, maxConnections=3)
        with self.assertRaises(ValueError):
            ClientService(reactor, "http://127.0.0.1:9/", app)
        with self.assertRaises(ValueError):
            ClientService(reactor, "tcp://127.0.0.1/", app)


async def _failure(d: Deferred[Any]) -> BaseException:
    """
    What C{d} fails with (an error if it succeeds), once the service has
    finished the change of state that failed it (Twisted's service cannot
    be stopped from inside one).
    """
    try:
        result = await d
    except BaseException as e:
        await deferLater(reactor, 0)
        return e
    raise AssertionError(f"succeeded with {result!r}")
