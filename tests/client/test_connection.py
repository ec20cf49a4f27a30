"""
Tests for L{ratchet_tx.client.connection}: the client's connection driven in
memory, against the server's codecs, on a fake clock.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.error import TimeoutError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.logger import LogLevel, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.client.connect import clientSettings
from ratchet_tx.client.connection import ClientConnection, ClientWebSocket
from ratchet_tx.commands import SendMessage
from ratchet_tx.flow import FlowControl
from ratchet_tx.server import ConnectionProtocol
from ratchet_tx.websocket.codecs.clienthandshake import ClientHandshake
from ratchet_tx.websocket.codecs.errors import (
    HandshakeError,
    HandshakeRefused,
    InvalidHandshakeResponse,
)
from ratchet_tx.websocket.codecs.events import Close
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion
from ratchet_tx.websocket.framing import Role
from ratchet_tx.websocket.protocol import WebSocketProtocol
from tests.support.apps import LogCapture, RecordingApplication

LIMITS = {"maxHandshakeSize": 16384, "maxMessageSize": 1 << 20}


class Pair:
    """A client connection over an in-memory transport, and a server protocol."""

    def __init__(self, version: WebSocketVersion = WebSocketVersion.RFC6455, **settings: Any):
        self.clock = Clock()
        self.app = RecordingApplication(onMessage=lambda conn, m: SendMessage(conn, m))
        handshake = ClientHandshake.new("ws://example.test/chat", version=version)
        self.layer = ClientWebSocket(self.app, handshake, clientSettings(**settings), self.clock)
        self.outcome: list[Any] = []
        self.layer.connected.addBoth(self.outcome.append)
        self.transport = StringTransportWithDisconnection()
        self.proto = ConnectionProtocol(self.layer, FlowControl())
        self.transport.protocol = self.proto
        self.proto.makeConnection(self.transport)
        self.server = WebSocketProtocol(Role.SERVER, **LIMITS)
        self.sent = 0

    def toServer(self) -> list[Any]:
        data = self.transport.value()[self.sent :]
        self.sent += len(data)
        return self.server.receiveData(data)

    def toClient(self, data: bytes, size: int | None = None) -> None:
        for start in range(0, len(data), size or len(data) or 1):
            self.proto.dataReceived(data[start : start + (size or len(data))])

    def open(self, size: int | None = None) -> ClientConnection:
        self.toServer()
        self.toClient(self.server.accept(), size)
        [conn] = self.outcome
        return conn


class HandshakeTests(SynchronousTestCase):
    def test_opensAfterOnOpenInEveryChunking(self) -> None:
        for version in WebSocketVersion:
            for size in (1, 5, None):
                pair = Pair(version)
                conn = pair.open(size)
                self.assertIsInstance(conn, ClientConnection)
                self.assertEqual(pair.app.callbacks(), ["onOpen"])
                self.assertIs(conn.version, version)
                self.assertEqual(pair.clock.getDelayedCalls() != [], True)

    def test_refused(self) -> None:
        pair = Pair()
        pair.toServer()
        pair.toClient(pair.server.refuse(HandshakeError(403, "go away")))
        [failure] = pair.outcome
        self.assertIsInstance(failure.value, HandshakeRefused)
        self.assertEqual(failure.value.status, 403)
        self.assertEqual(pair.app.callbacks(), [], "the application never heard of it")
        self.assertFalse(pair.transport.connected)
        self.assertEqual(pair.clock.getDelayedCalls(), [])

    def test_timesOut(self) -> None:
        log = LogCapture(self)
        pair = Pair(handshakeTimeout=3)
        pair.clock.advance(2.9)
        self.assertEqual(pair.outcome, [])
        pair.clock.advance(0.1)
        [failure] = pair.outcome
        self.assertIsInstance(failure.value, TimeoutError)
        self.assertFalse(pair.transport.connected)
        self.assertEqual(pair.clock.getDelayedCalls(), [])
        # One log line, as for any failed handshake, naming the URL and the limit.
        [line] = [e for e in log.events if e.get("log_namespace", "").startswith("ratchet_tx")]
        self.assertEqual(line["log_level"], LogLevel.info)
        self.assertIn("ws://example.test/chat", formatEvent(line))
        self.assertIn("took over 3 s", formatEvent(line))

    def test_lostDuringTheHandshake(self) -> None:
        pair = Pair()
        pair.transport.loseConnection()
        [failure] = pair.outcome
        self.assertIsInstance(failure.value, InvalidHandshakeResponse)
        self.assertIn("closed before the response head ended", str(failure.value))
        self.assertEqual(pair.clock.getDelayedCalls(), [])


class OpenTests(SynchronousTestCase):
    def test_messagesBothWays(self) -> None:
        pair = Pair()
        conn = pair.open()
        pair.toClient(pair.server.send("echo me"))
        self.assertEqual(pair.toServer(), ["echo me"])
        conn.send(b"\x01")
        self.assertEqual(pair.toServer(), [b"\x01"])

    def test_clientClosesAndWaitsForTheServer(self) -> None:
        pair = Pair(closeTimeout=2)
        conn = pair.open()
        conn.close(1000, "done")
        self.assertEqual(pair.toServer(), [Close(1000, "done")])
        pair.toClient(pair.server.dataToSend())
        self.assertTrue(pair.transport.connected, "the server closes TCP first")
        pair.clock.advance(2)
        self.assertFalse(pair.transport.connected, "unless it does not, in time")
        self.assertEqual(pair.app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(conn.closeCode, 1000)
        self.assertEqual(pair.clock.getDelayedCalls(), [])

    def test_pingedWhenQuiet(self) -> None:
        pair = Pair(pingInterval=4, pingTimeout=4)
        pair.open()
        pair.clock.pump([1] * 5)
        [ping] = pair.toServer()
        self.assertEqual(type(ping).__name__, "Ping")
        pair.clock.pump([1] * 5)
        self.assertFalse(pair.transport.connected, "no pong: dropped")
