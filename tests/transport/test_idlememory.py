"""
What an idle WebSocket connection keeps, over real loopback sockets on the
write-through transport: the attribute dictionary of its Twisted transport
holds only the listed entries, every object of ours is slotted, and what
connections of one layer have in common is shared, not copied.

These are the structural contracts behind the idle scenario's figure (see
bench/README.md, "Idle memory"); no timing and no byte counts, which vary
with the Python version.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from twisted.internet.epollreactor import EPollReactor
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.examples.echo import Echo
from ratchet_tx.server import Server
from ratchet_tx.transport import TCPServerEndpoint
from ratchet_tx.websocket import WebSocket

#: Every entry an idle connection's transport keeps in its attribute
#: dictionary (Twisted's and ours); anything else is made when asked, or a
#: class attribute.
TRANSPORT_KEEPS = {
    "_peerRest",
    "_logContext",
    "_pending",
    "_turn",
    "connected",
    "hostname",
    "producer",
    "protocol",
    "reactor",
    "server",
    "sessionno",
    "socket",
    "streamingProducer",
}

REQUEST = (
    b"GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nCookie: user=alice\r\n\r\n"
)


class IdleConnection(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = EPollReactor()
        self.layer = WebSocket(Echo(), clock=self.reactor)
        self.server = Server(self.layer)
        ports: list[Any] = []
        endpoint = TCPServerEndpoint(self.reactor, 0, interface="127.0.0.1")
        endpoint.listen(self.server).addCallback(ports.append)
        self.port = ports[0]
        self.peers: list[socket.socket] = []
        self.addCleanup(self.closeAll)

    def runUntil(self, condition: Any, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f"not true within {timeout} s: {condition}")
            self.reactor.iterate(0.002)

    def open(self) -> Any:
        """Open a WebSocket connection; return its server side once it is open."""
        peer = socket.create_connection(("127.0.0.1", self.port.getHost().port))
        self.peers.append(peer)
        peer.sendall(REQUEST)
        peer.setblocking(False)
        known = self.layer.connections
        answer = bytearray()

        def answered() -> bool:
            try:
                answer.extend(peer.recv(4096))
            except BlockingIOError:
                pass
            return b"\r\n\r\n" in answer

        self.runUntil(answered)
        self.assertTrue(answer.startswith(b"HTTP/1.1 101 "), answer)
        (ws,) = self.layer.connections - known
        return ws

    def closeAll(self) -> None:
        for peer in self.peers:
            peer.close()
        self.runUntil(lambda: not self.server.protocols)
        stopped: list[object] = []
        self.port.stopListening().addCallback(stopped.append)
        self.runUntil(lambda: stopped)
        for reader in list(self.reactor._internalReaders):
            self.reactor.removeReader(reader)
            reader.connectionLost(None)
        self.reactor._poller.close()

    def test_transportKeepsOnlyTheListedEntries(self) -> None:
        ws = self.open()
        transport = ws.transportConnection.transport
        self.assertLessEqual(set(vars(transport)), TRANSPORT_KEEPS)

    def test_ourObjectsAreSlotted(self) -> None:
        ws = self.open()
        conn = ws.transportConnection
        for obj in (ws, ws.protocol, conn, conn.transport.protocol):
            self.assertFalse(hasattr(obj, "__dict__"), type(obj))

    def test_whatConnectionsOfALayerShareIsShared(self) -> None:
        first, second = self.open(), self.open()
        self.assertIs(first.protocol._limits, second.protocol._limits)
        self.assertIs(
            first.transportConnection.localAddress, second.transportConnection.localAddress
        )
        self.assertIs(first.protocol.send, second.protocol.send)

    def test_idleConnectionStillTellsEverything(self) -> None:
        """What was stored compactly or not at all is still there when asked."""
        ws = self.open()
        transport = ws.transportConnection.transport
        peerPort = self.peers[-1].getsockname()[1]
        self.assertEqual((ws.remoteAddress.host, ws.remoteAddress.port), ("127.0.0.1", peerPort))
        self.assertEqual(ws.path, "/chat")
        self.assertEqual(ws.query, "room=1")
        self.assertEqual(ws.cookies, {"user": "alice"})
        headers = ws.headers
        assert headers is not None
        self.assertEqual(headers.get("Sec-WebSocket-Version"), "13")
        self.assertEqual(transport.logPrefix(), f"ServerProtocol,{transport.sessionno},127.0.0.1")
        self.assertEqual(transport.fileno(), transport.socket.fileno())
        self.assertIn(f"#{transport.sessionno} on {self.port.getHost().port}", repr(transport))
