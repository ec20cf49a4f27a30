"""
Tests for L{ratchet_tx.client.connect}: the client on the real reactor, over
loopback sockets, against ratchet_tx's own server of every version, plain
TCP and TLS; and how a connection attempt fails.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.error import ConnectionRefusedError, TimeoutError
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.policies import WrappingFactory
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from ratchet_tx.client import (
    ClientConnection,
    HandshakeRefused,
    InvalidHandshakeResponse,
    clientSettings,
    connect,
)
from ratchet_tx.client.connect import parseVersion
from ratchet_tx.commands import SendMessage
from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.server import Server
from ratchet_tx.transport import WriteThroughClient
from ratchet_tx.websocket import WebSocket
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion
from tests.support.apps import RecordingApplication

#: A bound on every wait of these tests.
TIMEOUT = 5.0


def echoing() -> RecordingApplication:
    return RecordingApplication(onMessage=lambda conn, m: SendMessage(conn, m))


@implementer(IApplication)
class Collector:
    """A client application that keeps what it hears and says when."""

    def __init__(self, expected: int) -> None:
        self.messages: list[Any] = []
        self.expected = expected
        self.done: Deferred[list[Any]] = Deferred()
        self.closed: Deferred[None] = Deferred()
        self.opens = 0
        self.closes = 0

    def onOpen(self, conn: IConnection) -> None:
        self.opens += 1

    def onMessage(self, conn: IConnection, message: Any) -> None:
        self.messages.append(message)
        if len(self.messages) == self.expected and not self.done.called:
            self.done.callback(self.messages)

    def onClose(self, conn: IConnection) -> None:
        self.closes += 1
        if not self.closed.called:
            self.closed.callback(None)

    def onError(self, conn: IConnection, failure: Any) -> None:
        raise AssertionError(failure)


class TrackingFactory(WrappingFactory):
    """Keeps the server's open connections in a set, until they are lost."""

    def __init__(self, wrapped: Factory, open: set[Any]) -> None:
        super().__init__(wrapped)
        self.open = open

    def registerProtocol(self, p: Any) -> None:
        super().registerProtocol(p)
        self.open.add(p)

    def unregisterProtocol(self, p: Any) -> None:
        super().unregisterProtocol(p)
        self.open.discard(p)


class LoopbackTestCase(TestCase):
    timeout = 20

    def setUp(self) -> None:
        self.open: set[Any] = set()

    def serve(self, app: Any = None, **settings: Any) -> int:
        return self.listen(Server(WebSocket(app or echoing(), **settings)))

    def listen(self, factory: Factory) -> int:
        endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        port = self.successResultOf(endpoint.listen(TrackingFactory(factory, self.open)))
        self.addCleanup(self.allClosed)
        self.addCleanup(port.stopListening)
        return port.getHost().port

    @inlineCallbacks
    def allClosed(self) -> Any:
        """Drop what is still open, and wait (a bounded time) until it is gone."""
        for proto in list(self.open):
            proto.transport.abortConnection()
        for _ in range(int(TIMEOUT / 0.01)):
            if not self.open:
                return
            yield deferLater(0.01)
        self.fail(f"still open: {self.open}")


class EveryVersionTests(LoopbackTestCase):
    @inlineCallbacks
    def test_echoInEveryVersion(self) -> Any:
        server = echoing()
        port = self.serve(server)
        payloads: list[str | bytes] = ["hello", "ünïcode", "x" * 70000, b"\x00\xff" * 10]
        for version in WebSocketVersion:
            sent = payloads if not version.isHixie else payloads[:3]
            app = Collector(len(sent))
            conn = yield connect(reactor, f"ws://127.0.0.1:{port}/echo", app, version=version.value)
            self.assertIsInstance(conn, ClientConnection)
            self.assertIsInstance(conn.transportConnection.transport, WriteThroughClient)
            self.assertIs(conn.version, version)
            self.assertEqual(app.opens, 1, "onOpen ran before the Deferred fired")
            for message in sent:
                conn.send(message)
            received = yield app.done
            self.assertEqual(received, sent, version)
            conn.close(1000)
            yield app.closed
            self.assertEqual(app.closes, 1)

    @inlineCallbacks
    def test_theSameApplicationServesAndConsumes(self) -> Any:
        chat = echoing()
        port = self.serve(chat)
        yield connect(reactor, f"ws://127.0.0.1:{port}/", chat)
        self.assertEqual(chat.callbacks().count("onOpen"), 2, "both ends are its connections")

    @inlineCallbacks
    def test_subprotocolAndHeaders(self) -> Any:
        seen: list[Any] = []
        server = RecordingApplication(onOpen=lambda conn: seen.append(conn.request))
        port = self.serve(server, subprotocols=("chat.v2", "chat.v1"))
        conn = yield connect(
            reactor,
            f"ws://127.0.0.1:{port}/room?id=7",
            Collector(0),
            subprotocols=("chat.v1", "chat.v2"),
            headers={"Cookie": "sessionid=abc"},
            origin="http://127.0.0.1",
        )
        self.assertEqual(conn.subprotocol, "chat.v1", "the client's order wins")
        [request] = seen
        self.assertEqual(request.headers.get("cookie"), "sessionid=abc")
        self.assertEqual(request.target, "/room?id=7")
        conn.abort()

    @inlineCallbacks
    def test_deflateAgreed(self) -> Any:
        port = self.serve()
        app = Collector(1)
        conn = yield connect(reactor, f"ws://127.0.0.1:{port}/", app)
        self.assertIn("permessage-deflate", conn.extensions or "")
        conn.send("z" * 5000)
        received = yield app.done
        self.assertEqual(received, ["z" * 5000])
        conn.abort()

    @inlineCallbacks
    def test_noDeflateWhenNotOffered(self) -> Any:
        port = self.serve()
        conn = yield connect(reactor, f"ws://127.0.0.1:{port}/", Collector(0), deflate=False)
        self.assertFalse(conn.extensions)
        conn.abort()


class SecureTests(LoopbackTestCase):
    """wss://: TLS over the client's write-through transport, the server's
    certificate checked against the trust root given."""

    def listenTLS(self) -> tuple[int, Any]:
        from twisted.internet.endpoints import serverFromString
        from twisted.internet.ssl import Certificate

        from tests.integration.test_tls import makeCertificate

        directory = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, directory, True)
        key, cert = makeCertificate(directory)
        endpoint = serverFromString(
            reactor, f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        )
        factory = TrackingFactory(Server(WebSocket(echoing())), self.open)
        port = self.successResultOf(endpoint.listen(factory))
        self.addCleanup(self.allClosed)
        self.addCleanup(port.stopListening)
        return port.getHost().port, Certificate.loadPEM(cert.read_bytes())

    @inlineCallbacks
    def test_echoOverTLS(self) -> Any:
        port, certificate = self.listenTLS()
        app = Collector(2)
        conn = yield connect(reactor, f"wss://127.0.0.1:{port}/", app, trustRoot=certificate)
        tls = conn.transportConnection.transport
        self.assertIsInstance(tls.transport, WriteThroughClient, "TLS over write-through")
        large = bytes(range(256)) * 4096
        conn.send("over TLS")
        conn.send(large)
        received = yield app.done
        self.assertEqual(received, ["over TLS", large])
        conn.close(1000)
        yield app.closed

    @inlineCallbacks
    def test_untrustedCertificate(self) -> Any:
        """
        A certificate the platform's trust roots do not vouch for: the TLS
        handshake fails, and so does C{connect} (the TLS layer's error is
        not passed on: the connection is seen to close before the answer).
        """
        port, _ = self.listenTLS()
        app = Collector(0)
        failure = yield self.assertFailure(
            connect(reactor, f"wss://127.0.0.1:{port}/", app), InvalidHandshakeResponse
        )
        self.assertIn("closed before the response head ended", str(failure))
        self.assertEqual(app.opens, 0)


class PlainTCPTests(LoopbackTestCase):
    @inlineCallbacks
    def test_rawBytesBothWays(self) -> Any:
        port = self.listen(Server(echoing()))
        app = Collector(1)
        conn = yield connect(reactor, f"tcp://127.0.0.1:{port}", app)
        self.assertEqual(app.opens, 1)
        conn.send(b"raw bytes")
        received = yield app.done
        self.assertEqual(b"".join(received), b"raw bytes")
        conn.close()
        yield app.closed

    def test_urlNeedsAPort(self) -> None:
        self.assertRaises(ValueError, connect, reactor, "tcp://127.0.0.1", Collector(0))


class FailureTests(LoopbackTestCase):
    @inlineCallbacks
    def test_refusedHandshake(self) -> Any:
        port = self.serve(origins=("http://good.test",))
        app = Collector(0)
        d = connect(reactor, f"ws://127.0.0.1:{port}/", app, origin="http://evil.test")
        failure = yield self.assertFailure(d, HandshakeRefused)
        self.assertEqual(failure.status, 403)
        self.assertEqual(app.opens + app.closes, 0, "the application never heard of it")

    @inlineCallbacks
    def test_refusedConnection(self) -> Any:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        d = connect(reactor, f"ws://127.0.0.1:{port}/", Collector(0))
        yield self.assertFailure(d, ConnectionRefusedError)

    @inlineCallbacks
    def test_silentServerTimesOut(self) -> Any:
        connections: list[Protocol] = []

        class Silent(Protocol):
            def connectionMade(self) -> None:
                connections.append(self)

        port = self.listen(Factory.forProtocol(Silent))
        d = connect(reactor, f"ws://127.0.0.1:{port}/", Collector(0), handshakeTimeout=0.3)
        yield self.assertFailure(d, TimeoutError)
        [silent] = connections
        lost: Deferred[None] = Deferred()
        silent.connectionLost = lambda reason: lost.callback(None)  # type: ignore[method-assign]
        if silent.transport.connected:  # type: ignore[union-attr]
            yield lost  # nothing half-open: the client dropped it

    @inlineCallbacks
    def test_cancelDropsTheAttempt(self) -> Any:
        connections: list[Protocol] = []

        class Silent(Protocol):
            def connectionMade(self) -> None:
                connections.append(self)

        port = self.listen(Factory.forProtocol(Silent))
        d = connect(reactor, f"ws://127.0.0.1:{port}/", Collector(0))
        while not connections:
            yield deferLater(0.01)
        d.cancel()
        self.failureResultOf(d)
        lost: Deferred[None] = Deferred()
        connections[0].connectionLost = lambda reason: lost.callback(None)  # type: ignore[method-assign]
        if connections[0].transport.connected:  # type: ignore[union-attr]
            yield lost


def deferLater(seconds: float) -> Deferred[None]:
    from twisted.internet.task import deferLater as later

    return later(reactor, seconds, lambda: None)


class ArgumentTests(SynchronousTestCase):
    def test_versionNames(self) -> None:
        for version in WebSocketVersion:
            self.assertIs(parseVersion(version.value), version)
            self.assertIs(parseVersion(version), version)
        error = self.assertRaises(ValueError, parseVersion, "hybi-99")
        self.assertIn("rfc6455", str(error))

    def test_onlyClientSettings(self) -> None:
        error = self.assertRaises(TypeError, clientSettings, allowedOrigins=("x",))
        self.assertIn("allowedOrigins", str(error))
        self.assertEqual(clientSettings(maxMessageSize=10).maxMessageSize, 10)
