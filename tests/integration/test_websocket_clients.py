"""
Real WebSocket clients of every generation over loopback sockets: the
C{websockets} library (RFC 6455), the C{autobahn} Twisted client (RFC 6455),
and this suite's own HyBi-10/-07, Hixie-76 and Hixie-75 clients
(L{tests.support.wsclients}), against a real C{twistd ratchet} process or
an in-process C{Server(WebSocket(...))} on the real reactor.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import ExitStack

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.trial.unittest import SynchronousTestCase, TestCase
from websockets.exceptions import ConnectionClosed as WebsocketsConnectionClosed
from websockets.sync.client import connect as websocketsConnect
from zope.interface import implementer

from ratchet_tx.commands import SendMessage
from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.websocket import WebSocket
from ratchet_tx.websocket.codecs.events import Close, Ping, Pong
from tests.support.transport import serverFromString
from tests.support.twistd import SIGTERM_EXIT, TwistdProcess, connect, recvUntilClosed
from tests.support.wsclients import (
    ConnectionClosed,
    HandshakeRefused,
    Hixie75Client,
    Hixie76Client,
    HybiClient,
    ReceiveTimeout,
)

ECHO = ("--app", "ratchet_tx.examples.echo:Echo")
CHAT = ("--app", "ratchet_tx.examples.chat:Chat")

#: A bound on every wait of these tests.
TIMEOUT = 5.0

MiB = 2**20


class TwistdTestCase(SynchronousTestCase):
    """Start C{twistd ratchet} and clients, and clean them all up."""

    def startTwistd(self, *args: str) -> TwistdProcess:
        proc = TwistdProcess.start(*args)
        self.addCleanup(proc.stop)
        return proc

    def client(self, factory, *args, **kwargs):
        client = factory(*args, **kwargs)
        self.addCleanup(client.abort)
        return client

    def websockets(self, port: int, path: str = "/", **kwargs):
        kwargs.setdefault("open_timeout", TIMEOUT)
        kwargs.setdefault("close_timeout", TIMEOUT)
        kwargs.setdefault("max_size", None)
        stack = ExitStack()
        self.addCleanup(stack.close)
        return stack.enter_context(websocketsConnect(f"ws://127.0.0.1:{port}{path}", **kwargs))

    def waitForExit(self, proc: TwistdProcess, timeout: float = 10.0) -> int:
        """Wait (without signalling it) for C{proc} to exit; its status."""
        deadline = time.monotonic() + timeout
        while proc.running:
            if time.monotonic() > deadline:
                raise AssertionError(f"twistd still running after {timeout}s:\n{proc.log()}")
            time.sleep(0.02)
        return proc.stop()

    def assertLogClean(self, proc: TwistdProcess) -> None:
        self.assertNotIn("Traceback", proc.log())
        self.assertNotIn("Unhandled", proc.log())


class WebsocketsEchoTests(TwistdTestCase):
    """The C{websockets} library's synchronous client, RFC 6455."""

    def setUp(self) -> None:
        self.proc = self.startTwistd(*ECHO)

    def test_textAndBinary(self) -> None:
        ws = self.websockets(self.proc.port, "/echo?x=1")
        ws.send("héllo, wörld ☃")
        self.assertEqual(ws.recv(timeout=TIMEOUT), "héllo, wörld ☃")
        ws.send(b"\x00\x01\xfe\xff")
        self.assertEqual(ws.recv(timeout=TIMEOUT), b"\x00\x01\xfe\xff")
        ws.send("")
        self.assertEqual(ws.recv(timeout=TIMEOUT), "")

    def test_oneMebibyteMessage(self) -> None:
        ws = self.websockets(self.proc.port)
        payload = os.urandom(MiB)
        ws.send(payload)
        self.assertEqual(ws.recv(timeout=TIMEOUT), payload)
        text = "€" * (MiB // 3)
        ws.send(text)
        self.assertEqual(ws.recv(timeout=TIMEOUT), text)

    def test_fragmentedMessage(self) -> None:
        ws = self.websockets(self.proc.port)
        ws.send(["frag", "mented ", "text"])
        self.assertEqual(ws.recv(timeout=TIMEOUT), "fragmented text")

    def test_closeCodeAndReasonEchoed(self) -> None:
        ws = self.websockets(self.proc.port)
        ws.send("last words")
        self.assertEqual(ws.recv(timeout=TIMEOUT), "last words")
        ws.close(code=4001, reason="done here")
        self.assertEqual(ws.protocol.close_rcvd.code, 4001)
        self.assertEqual(ws.protocol.close_rcvd.reason, "done here")

    def test_tooLargeIs1009(self) -> None:
        ws = self.websockets(self.proc.port)
        ws.send(b"x" * (MiB + 1))
        with self.assertRaises(WebsocketsConnectionClosed) as caught:
            ws.recv(timeout=TIMEOUT)
        self.assertEqual(caught.exception.rcvd.code, 1009)
        # The server carries on.
        other = self.websockets(self.proc.port)
        other.send("next")
        self.assertEqual(other.recv(timeout=TIMEOUT), "next")


class OwnClientEchoTests(TwistdTestCase):
    """This suite's clients: HyBi-10, HyBi-07, Hixie-76, Hixie-75."""

    def setUp(self) -> None:
        self.proc = self.startTwistd(*ECHO)

    def test_hybi(self) -> None:
        for version in (13, 8, 7):
            client = self.client(HybiClient, self.proc.port, version=version, path="/e",
                                 origin="http://127.0.0.1")
            client.send(f"version {version}")
            self.assertEqual(client.recv(), f"version {version}")
            client.send(bytes(range(256)))
            self.assertEqual(client.recv(), bytes(range(256)))
            client.ping(b"ping!")
            self.assertEqual(client.recv(), Pong(b"ping!"))
            self.assertEqual(client.close(1000, "bye"), Close(1000, "bye"))

    def test_hixie76(self) -> None:
        client = self.client(Hixie76Client, self.proc.port, path="/echo?room=1")
        for text in ("hello", "", "wörld ☃", "x" * 100_000):
            client.send(text)
            self.assertEqual(client.recv(), text)
        client.close()

    def test_hixie76Key3SentLater(self) -> None:
        client = self.client(Hixie76Client, self.proc.port, splitKey3=True)
        client.send("after a pause")
        self.assertEqual(client.recv(), "after a pause")
        client.close()

    def test_hixie76FirstFrameWithKey3(self) -> None:
        client = self.client(Hixie76Client, self.proc.port, firstMessage="eager")
        self.assertEqual(client.recv(), "eager")
        client.close()

    def test_hixie75(self) -> None:
        client = self.client(Hixie75Client, self.proc.port, path="/old")
        for text in ("from 2009", "ünïcödé"):
            client.send(text)
            self.assertEqual(client.recv(), text)
        client.close()


class CommandLineOptionTests(TwistdTestCase):
    def test_subprotocolAndSecureLocation(self) -> None:
        proc = self.startTwistd(*ECHO, "--subprotocol", "echo.v2", "--subprotocol", "echo.v1",
                                "--secure-location")
        ws = self.websockets(proc.port, subprotocols=["echo.v1"])
        self.assertEqual(ws.subprotocol, "echo.v1")
        client = self.client(HybiClient, proc.port, version=8, subprotocols=["x", "echo.v2"])
        self.assertEqual(client.subprotocol, "echo.v2")
        hixie = self.client(Hixie76Client, proc.port, protocol="echo.v1", secure=True)
        hixie.send("behind a TLS proxy")
        self.assertEqual(hixie.recv(), "behind a TLS proxy")
        old = self.client(Hixie75Client, proc.port, secure=True)
        old.send("me too")
        self.assertEqual(old.recv(), "me too")

    def test_disabledHixieVersions(self) -> None:
        proc = self.startTwistd(*ECHO, "--disable-version", "hixie-76",
                                "--disable-version", "hixie-75")
        for factory in (Hixie76Client, Hixie75Client):
            with self.assertRaises(HandshakeRefused) as caught:
                factory(proc.port)
            self.assertEqual(caught.exception.response.status, 400)
        client = self.client(HybiClient, proc.port)
        client.send("modern clients still welcome")
        self.assertEqual(client.recv(), "modern clients still welcome")


class ThreeGenerationsChatTests(TwistdTestCase):
    """
    A Hixie-76, an RFC 6455 and a HyBi-10 client in one chat, on one port.
    """

    def test_everyoneHearsEveryoneElse(self) -> None:
        proc = self.startTwistd(*CHAT)
        hixie = self.client(Hixie76Client, proc.port, path="/chat")
        rfc = self.websockets(proc.port, "/chat")
        hybi10 = self.client(HybiClient, proc.port, version=8, path="/chat")

        hixie.send("hello from Safari 5")
        self.assertEqual(rfc.recv(timeout=TIMEOUT), "hello from Safari 5")
        self.assertEqual(hybi10.recvMessage(), "hello from Safari 5")

        rfc.send("hello from a browser of today")
        self.assertEqual(hixie.recv(), "hello from a browser of today")
        self.assertEqual(hybi10.recvMessage(), "hello from a browser of today")

        hybi10.send("hello from Chrome 14")
        self.assertEqual(hixie.recv(), "hello from Chrome 14")
        self.assertEqual(rfc.recv(timeout=TIMEOUT), "hello from Chrome 14")

        # Nobody heard their own messages.
        with self.assertRaises(TimeoutError):
            rfc.recv(timeout=0.2)
        self.assertRaises(ReceiveTimeout, hixie.recv, 0.2)
        self.assertRaises(ReceiveTimeout, hybi10.recvMessage, 0.2)

        hixie.close()
        rfc.send("the Hixie client left")
        self.assertEqual(hybi10.recvMessage(), "the Hixie client left")
        self.assertEqual(hybi10.close(1000), Close(1000, ""))
        self.assertLogClean(proc)


class BadHandshakeTests(TwistdTestCase):
    """
    Bad requests get their HTTP status over a real socket, while the clients
    already connected keep chatting.
    """

    def setUp(self) -> None:
        self.proc = self.startTwistd(
            *CHAT,
            "--origin", "http://good.example",
            "--disable-version", "hybi-07",
            "--max-handshake-size", "2048",
        )
        self.alice = self.client(HybiClient, self.proc.port, origin="http://good.example")
        self.bob = self.client(HybiClient, self.proc.port, version=8,
                               origin="http://good.example")

    def assertStillChatting(self) -> None:
        self.alice.send("still there, bob?")
        self.assertEqual(self.bob.recvMessage(), "still there, bob?")
        self.bob.send("yes")
        self.assertEqual(self.alice.recvMessage(), "yes")

    def rawRequest(self, data: bytes) -> bytes:
        sock = connect(self.proc.port)
        self.addCleanup(sock.close)
        sock.sendall(data)
        return recvUntilClosed(sock, TIMEOUT)

    def test_statuses(self) -> None:
        self.assertStillChatting()

        answer = self.rawRequest(b"NONSENSE\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 400 "), answer)
        self.assertStillChatting()

        with self.assertRaises(HandshakeRefused) as caught:
            HybiClient(self.proc.port, version=9)
        self.assertEqual(caught.exception.response.status, 426)
        self.assertEqual(caught.exception.response.header("Sec-WebSocket-Version"), "13, 8")

        with self.assertRaises(HandshakeRefused) as caught:
            HybiClient(self.proc.port, version=7, origin="http://good.example")
        self.assertEqual(caught.exception.response.status, 426)
        self.assertStillChatting()

        with self.assertRaises(HandshakeRefused) as caught:
            HybiClient(self.proc.port, origin="http://evil.example")
        self.assertEqual(caught.exception.response.status, 403)

        with self.assertRaises(HandshakeRefused) as caught:
            HybiClient(self.proc.port, headers={"X-Padding": "p" * 4096})
        self.assertEqual(caught.exception.response.status, 431)
        self.assertStillChatting()

        with self.assertRaises(HandshakeRefused) as caught:
            Hixie76Client(self.proc.port, origin="http://evil.example")
        self.assertEqual(caught.exception.response.status, 403)

        self.assertStillChatting()
        self.assertIn("Refused WebSocket handshake", self.proc.log())
        self.assertLogClean(self.proc)


class TimeoutOverSocketsTests(TwistdTestCase):
    def test_silentConnectionDropped(self) -> None:
        proc = self.startTwistd(*ECHO, "--handshake-timeout", "0.3")
        sock = connect(proc.port)
        self.addCleanup(sock.close)
        sock.sendall(b"GET / HTTP/1.1\r\n")
        start = time.monotonic()
        try:
            recvUntilClosed(sock, TIMEOUT)
        except ConnectionResetError:
            pass  # an abort may reset
        self.assertLess(time.monotonic() - start, 3)

    def test_pingAnsweredThenNot(self) -> None:
        proc = self.startTwistd(*ECHO, "--ping-interval", "0.4", "--ping-timeout", "0.4")
        client = self.client(HybiClient, proc.port)
        event = client.recv(timeout=3)
        self.assertIsInstance(event, Ping)
        client.pong(event.payload)
        self.assertIsInstance(client.recv(timeout=3), Ping)
        # Not answered this time: dropped.
        start = time.monotonic()
        with self.assertRaises((ConnectionClosed, ConnectionResetError)):
            client.recv(timeout=3)
        self.assertLess(time.monotonic() - start, 2.5)


class ShutdownTests(TwistdTestCase):
    def test_sigtermClosesClientsWith1001(self) -> None:
        """
        SIGTERM: every RFC/HyBi client gets close 1001, Hixie-76 clients
        their close frame, Hixie-75 clients a closed socket, and twistd exits
        in order once they answered, without waiting for any timeout.

        twistd re-raises SIGTERM after an orderly shutdown, so "in order" is
        the status L{SIGTERM_EXIT} with "Server Shut Down." in the log (see
        L{tests.support.twistd}).
        """
        proc = self.startTwistd(*CHAT, "--shutdown-timeout", "5")
        ws = self.websockets(proc.port)
        hybi13 = self.client(HybiClient, proc.port)
        hybi8 = self.client(HybiClient, proc.port, version=8)
        hixie = self.client(Hixie76Client, proc.port)
        hixie75 = self.client(Hixie75Client, proc.port)
        ws.send("everyone is connected")
        for client in (hybi13, hybi8):
            self.assertEqual(client.recvMessage(), "everyone is connected")
        self.assertEqual(hixie.recv(), "everyone is connected")
        self.assertEqual(hixie75.recv(), "everyone is connected")

        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        for client in (hybi13, hybi8):
            close = client.recv()
            self.assertEqual(close.code, 1001)
            client.close(1001)
        with self.assertRaises(WebsocketsConnectionClosed) as caught:
            ws.recv(timeout=TIMEOUT)
        self.assertEqual(caught.exception.rcvd.code, 1001)
        self.assertEqual(hixie.recv(), Close())
        hixie.close()
        # Draft 75 has no closing handshake: the server just closes TCP.
        self.assertEqual(hixie75.waitForEof(), b"")

        self.assertEqual(self.waitForExit(proc), SIGTERM_EXIT, proc.log())
        self.assertLess(time.monotonic() - started, 4, "waited for the shutdown timeout")
        self.assertIn("Server Shut Down.", proc.log())
        self.assertLogClean(proc)


@implementer(IApplication)
class NotifyingEcho:
    """Echo, firing C{closed} when the last connection's C{onClose} ran."""

    def __init__(self) -> None:
        self.open = 0
        self.closed: Deferred[None] = Deferred()

    def onOpen(self, conn) -> None:
        self.open += 1

    def onMessage(self, conn, message):
        return SendMessage(conn, message)

    def onClose(self, conn) -> None:
        self.open -= 1
        if not self.open:
            self.closed.callback(None)

    def onError(self, conn, failure) -> None:
        conn.close()


class AutobahnClientTests(TestCase):
    """
    The autobahn Twisted client against an in-process server on the real
    reactor, listening on a loopback port.
    """

    timeout = 10

    def setUp(self) -> Deferred:
        self.app = NotifyingEcho()
        self.server = Server(WebSocket(self.app))
        listening = serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(self.server)

        def listened(port) -> None:
            self.port = port
            self.addCleanup(port.stopListening)

        return listening.addCallback(listened)

    def test_echo(self) -> Deferred:
        from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol

        portNumber = self.port.getHost().port
        received: list[tuple[bytes, bool]] = []
        closed: Deferred[tuple[bool, int, str]] = Deferred()
        big = os.urandom(200_000)

        class Client(WebSocketClientProtocol):
            def onOpen(self) -> None:
                self.sendMessage("héllo ☃".encode(), isBinary=False)
                self.sendMessage(b"\x00\xff", isBinary=True)
                self.sendMessage(big, isBinary=True, fragmentSize=30_000)

            def onMessage(self, payload: bytes, isBinary: bool) -> None:
                received.append((payload, isBinary))
                if len(received) == 3:
                    self.sendClose(code=4000, reason="done")

            def onClose(self, wasClean: bool, code: int, reason: str) -> None:
                closed.callback((wasClean, code, reason))

        factory = WebSocketClientFactory(f"ws://127.0.0.1:{portNumber}/echo")
        factory.protocol = Client
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", portNumber, timeout=5)
        connecting = endpoint.connect(factory)

        def check(results) -> None:
            (wasClean, code, reason), _ = results
            self.assertEqual(
                received,
                [("héllo ☃".encode(), False), (b"\x00\xff", True), (big, True)],
            )
            self.assertTrue(wasClean)
            self.assertEqual(code, 4000)
            self.assertEqual(self.server.protocols, set())

        connecting.addCallback(lambda _: gatherResults([closed, self.app.closed]))
        return connecting.addCallback(check)

    def test_twoClientsAtOnce(self) -> Deferred:
        from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol

        portNumber = self.port.getHost().port
        done = [Deferred(), Deferred()]

        def makeClient(index: int):
            class Client(WebSocketClientProtocol):
                def onOpen(self) -> None:
                    self.sendMessage(f"client {index}".encode())

                def onMessage(self, payload: bytes, isBinary: bool) -> None:
                    self.echoed = payload
                    self.sendClose(1000)

                def onClose(self, wasClean: bool, code: int, reason: str) -> None:
                    done[index].callback(getattr(self, "echoed", None))

            return Client

        for index in range(2):
            factory = WebSocketClientFactory(f"ws://127.0.0.1:{portNumber}/")
            factory.protocol = makeClient(index)
            TCP4ClientEndpoint(reactor, "127.0.0.1", portNumber, timeout=5).connect(factory)

        def check(results) -> None:
            self.assertEqual([value for _, value in results[:2]], [b"client 0", b"client 1"])

        return DeferredList([*done, self.app.closed]).addCallback(check)
