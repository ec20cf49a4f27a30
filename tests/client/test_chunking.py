"""
Every version of the client against ratchet_tx's own server (L{Server} and
L{WebSocket} around L{Echo}), in memory: the server's bytes reach the client
in chunks of every size from 1 to the length of the whole conversation, so
every boundary falls inside the handshake, a frame's head, its payload and a
UTF-8 sequence at least once.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.client.connect import clientSettings
from ratchet_tx.client.connection import ClientWebSocket
from ratchet_tx.examples.echo import Echo
from ratchet_tx.flow import FlowControl
from ratchet_tx.server import ConnectionProtocol, Server
from ratchet_tx.websocket.codecs.clienthandshake import ClientHandshake
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion
from ratchet_tx.websocket.layer import WebSocket
from tests.support.apps import RecordingApplication, connectTo

TEXT = ["hello", "h\u00e9llo \u2603 \U0001f600", "x" * 300]
BINARY = [b"\x00\xff" * 100]
HIXIE = {WebSocketVersion.HIXIE_75, WebSocketVersion.HIXIE_76}


class Conversation:
    """One client and one server, the server's bytes cut into C{size}-byte chunks."""

    def __init__(self, version: WebSocketVersion, size: int) -> None:
        self.size = size
        self.clock = Clock()
        self.app = RecordingApplication()
        handshake = ClientHandshake.new("ws://example.test/echo", version=version)
        settings = clientSettings(deflate=False, maxMessageSize=1 << 16, maxHandshakeSize=8192)
        self.layer = ClientWebSocket(self.app, handshake, settings, self.clock)
        self.opened: list[Any] = []
        self.layer.connected.addBoth(self.opened.append)
        self.clientTransport = StringTransportWithDisconnection()
        self.client = ConnectionProtocol(self.layer, FlowControl())
        self.clientTransport.protocol = self.client
        server = Server(WebSocket(Echo(), clock=self.clock))
        self.server, self.serverTransport = connectTo(server)
        self.client.makeConnection(self.clientTransport)
        self.received = b""

    def pump(self) -> None:
        """Carry bytes both ways until neither side has more to say."""
        while True:
            up = self.clientTransport.value()
            self.clientTransport.clear()
            down = self.serverTransport.value()
            self.serverTransport.clear()
            if not up and not down:
                self.hangUp()
                return
            if up:
                self.server.dataReceived(up)
            self.received += down
            for start in range(0, len(down), self.size):
                self.client.dataReceived(down[start : start + self.size])

    def hangUp(self) -> None:
        """A TCP close reaches the other end (once its bytes did)."""
        if self.clientTransport.connected != self.serverTransport.connected:
            self.clientTransport.loseConnection()
            self.serverTransport.loseConnection()


class EveryChunkingTests(SynchronousTestCase):
    def converse(self, version: WebSocketVersion, size: int) -> Conversation:
        talk = Conversation(version, size)
        talk.pump()
        [conn] = talk.opened
        self.assertIs(conn.version, version)
        messages: list[str | bytes] = [*TEXT, *([] if version in HIXIE else BINARY)]
        for message in messages:
            conn.send(message)
        talk.pump()
        echoed = [event[2] for event in talk.app.events if event[0] == "onMessage"]
        self.assertEqual(echoed, messages, f"{version.value} in chunks of {size}")
        conn.close(1000, "done")
        talk.pump()
        self.assertEqual(talk.app.callbacks()[-1], "onClose", f"{version.value}/{size}")
        self.assertEqual(talk.app.callbacks().count("onClose"), 1)
        self.assertFalse(talk.clientTransport.connected or talk.serverTransport.connected)
        self.assertEqual(talk.clock.getDelayedCalls(), [], f"{version.value}/{size}")
        return talk

    def test_everyVersionInEveryChunking(self) -> None:
        for version in WebSocketVersion:
            whole = self.converse(version, 1 << 20)
            for size in range(1, len(whole.received) + 1):
                self.converse(version, size)
