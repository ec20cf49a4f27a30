"""
permessage-deflate with real clients on loopback: the C{websockets} client
(which offers it by default, with context takeover) and the C{autobahn}
Twisted client, against our server's default policy (no context takeover
either way) and against one that keeps context.
"""

from __future__ import annotations

import os

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.trial.unittest import SynchronousTestCase, TestCase
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.sync.client import connect as websocketsConnect

from ratchet_tx.server import Server
from ratchet_tx.websocket import WebSocket
from ratchet_tx.websocket.codecs.deflate import DeflatePolicy
from tests.integration.test_websocket_clients import NotifyingEcho
from tests.support.apps import PayloadTypes
from tests.support.transport import serverFromString
from tests.support.twistd import TwistdProcess

TIMEOUT = 10.0
#: Chat-like text: compresses several times over.
CHATTY = '{"type": "chat", "from": "ada", "text": "hello everyone, how are you?"}' * 200


class WebsocketsDeflateTests(SynchronousTestCase):
    """The C{websockets} client against C{twistd ratchet}."""

    def serve(self, *args: str) -> TwistdProcess:
        server = TwistdProcess.start("--app", "ratchet_tx.examples.echo:Echo", *args)
        self.addCleanup(server.stop)
        return server

    def connectTo(self, server: TwistdProcess):
        """A client connected to C{server}, closed when the test ends."""
        # websockets' connect() is a context manager (used otherwise, it
        # warns): entered here, exited by the cleanup, as "with" would.
        connecting = websocketsConnect(f"ws://127.0.0.1:{server.port}/", open_timeout=TIMEOUT)
        ws = connecting.__enter__()
        self.addCleanup(connecting.__exit__, None, None, None)
        return ws

    def test_agreedWithoutContextTakeover(self) -> None:
        """
        The default policy answers the client's offer with no context
        takeover either way; messages of every kind round-trip.
        """
        ws = self.connectTo(self.serve())
        extensions = ws.protocol.extensions
        self.assertEqual([type(e) for e in extensions], [PerMessageDeflate])
        self.assertTrue(extensions[0].local_no_context_takeover)
        self.assertTrue(extensions[0].remote_no_context_takeover)
        binary = os.urandom(100_000)
        for message in (CHATTY, "short", binary, "é" * 50_000, CHATTY):
            ws.send(message)
            self.assertEqual(ws.recv(timeout=TIMEOUT), message)

    def test_contextTakeover(self) -> None:
        """With --deflate-context-takeover both sides keep their windows."""
        ws = self.connectTo(self.serve("--deflate-context-takeover"))
        extension = ws.protocol.extensions[0]
        self.assertFalse(extension.local_no_context_takeover)
        self.assertFalse(extension.remote_no_context_takeover)
        for index in range(20):
            ws.send(f"{index}: {CHATTY}")
            self.assertEqual(ws.recv(timeout=TIMEOUT), f"{index}: {CHATTY}")

    def test_refusedWhenTurnedOff(self) -> None:
        """--no-deflate: the offer is declined and nothing is compressed."""
        ws = self.connectTo(self.serve("--no-deflate"))
        self.assertEqual(ws.protocol.extensions, [])
        ws.send(CHATTY)
        self.assertEqual(ws.recv(timeout=TIMEOUT), CHATTY)

    def test_everyPayloadTypeIsItsOwnMessage(self) -> None:
        """
        The case reported with this client: permessage-deflate agreed, the
        application answers with a C{str}, then a C{str} subclass, a
        C{bytearray}, a C{memoryview} -- each arrives as itself, never as
        the message before it, through L{SendMessage} and L{Broadcast}.
        """
        ws = self.connectTo(self.serveApp("tests.support.apps:PayloadTypes"))
        self.assertTrue(ws.protocol.extensions)
        kinds = ["str", "subclass", "bytes", "bytearray", "memoryview", "str", "subclass"]
        for how in ("", "broadcast "):
            for kind in kinds:
                ws.send(how + kind)
                wanted = PayloadTypes.payload(kind)
                wanted = str(wanted) if isinstance(wanted, str) else bytes(wanted)
                self.assertEqual(ws.recv(timeout=TIMEOUT), wanted, how + kind)

    def serveApp(self, app: str) -> TwistdProcess:
        server = TwistdProcess.start("--app", app)
        self.addCleanup(server.stop)
        return server

    def test_smallWindow(self) -> None:
        """A server window of 10 bits is agreed and honoured by the client."""
        ws = self.connectTo(self.serve("--deflate-window-bits", "10"))
        extension = ws.protocol.extensions[0]
        self.assertEqual(extension.remote_max_window_bits, 10)
        ws.send(CHATTY)
        self.assertEqual(ws.recv(timeout=TIMEOUT), CHATTY)


class AutobahnDeflateTests(TestCase):
    """The autobahn Twisted client against an in-process server."""

    timeout = 15

    def serve(self, policy: DeflatePolicy | None = None) -> Deferred:
        self.app = NotifyingEcho()
        layer = WebSocket(self.app) if policy is None else WebSocket(self.app, deflate=policy)
        listening = serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(Server(layer))

        def listened(port) -> int:
            self.addCleanup(port.stopListening)
            return port.getHost().port

        return listening.addCallback(listened)

    def roundTrip(self, portNumber: int, messages: list[bytes]) -> Deferred:
        from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
        from autobahn.websocket.compress import (
            PerMessageDeflateOffer,
            PerMessageDeflateResponse,
            PerMessageDeflateResponseAccept,
        )

        received: list[bytes] = []
        agreed: list[object] = []
        closed: Deferred[bool] = Deferred()

        class Client(WebSocketClientProtocol):
            def onOpen(self) -> None:
                agreed.append(self._perMessageCompress)
                for message in messages:
                    self.sendMessage(message, isBinary=True)

            def onMessage(self, payload: bytes, isBinary: bool) -> None:
                received.append(payload)
                if len(received) == len(messages):
                    self.sendClose(code=1000)

            def onClose(self, wasClean: bool, code: int, reason: str) -> None:
                closed.callback(wasClean)

        def accept(response):
            if isinstance(response, PerMessageDeflateResponse):
                return PerMessageDeflateResponseAccept(response)
            return None

        factory = WebSocketClientFactory(f"ws://127.0.0.1:{portNumber}/")
        factory.protocol = Client
        factory.setProtocolOptions(
            perMessageCompressionOffers=[PerMessageDeflateOffer(accept_max_window_bits=True)],
            perMessageCompressionAccept=accept,
        )
        connecting = TCP4ClientEndpoint(reactor, "127.0.0.1", portNumber, timeout=5).connect(
            factory
        )
        connecting.addCallback(lambda _: gatherResults([closed, self.app.closed]))

        def check(results) -> None:
            wasClean, _ = results
            self.assertIsNotNone(agreed[0], "permessage-deflate was not agreed")
            self.assertEqual(received, messages)
            self.assertTrue(wasClean)

        return connecting.addCallback(check)

    def test_defaultPolicy(self) -> Deferred:
        messages = [CHATTY.encode(), os.urandom(70_000), b"x", CHATTY.encode() * 3]
        return self.serve().addCallback(self.roundTrip, messages)

    def test_contextTakeover(self) -> Deferred:
        messages = [CHATTY.encode() + bytes([index]) for index in range(30)]
        policy = DeflatePolicy()
        return self.serve(policy).addCallback(self.roundTrip, messages)
