"""
Large WebSocket messages end to end on real loopback sockets: a server of
C{WebSocket(echo)} on Twisted's transport (every byte through
C{dataReceived}) and on ours (large payloads read straight into their
message, L{ratchet_tx.websocket.codecs.hybi.PayloadBuffer}, and large
frames written as pieces), with the compiled buffer and the pure-Python
one, fed in reads cut across every kind of boundary.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import Site

from ratchet_tx.server import Server, ServerProtocol
from ratchet_tx.transport.tcp import WriteThroughConnection
from ratchet_tx.web import WebSocketResource
from ratchet_tx.websocket import WebSocket
from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.events import Close, Pong
from ratchet_tx.websocket.codecs.hybi import PAYLOAD_BUFFER_SIZE, FrameDecoder
from tests.codecs.test_payloadbuffer import BUFFERS
from tests.transport.harness import MATRIX, Peer, TransportHarness, pattern
from tests.websocket.helpers import (
    binaryFrame,
    closeFrame,
    echoApplication,
    hybiRequest,
    pingFrame,
    textFrame,
)

LARGE = PAYLOAD_BUFFER_SIZE * 3 + 5
LIMIT = 1 << 20


class _Protocol(ServerProtocol):
    """What the harness asks of a server protocol when it cleans up."""

    __slots__ = ("lost",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lost = False

    def connectionLost(self, reason: Any) -> None:
        self.lost = True
        super().connectionLost(reason)


class _Server(Server):
    """A server that keeps every protocol it built (for the harness)."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.built: list[_Protocol] = []

    def buildProtocol(self, addr: Any) -> _Protocol:
        proto = _Protocol(self.app, self.flow)
        proto.factory = self
        self.built.append(proto)
        return proto


class _Channel:
    """What the harness asks of a server protocol, for an HTTP channel."""

    transport: Any = None

    @property
    def lost(self) -> bool:
        return not self.transport.connected


class _Site(Site):
    """A site that keeps every channel it built (for the harness)."""

    def __init__(self, resource: Resource, reactor: Any) -> None:
        super().__init__(resource, reactor=reactor)
        self.built: list[_Channel] = []

    def buildProtocol(self, addr: Any) -> HTTPChannel:
        channel: HTTPChannel = super().buildProtocol(addr)  # type: ignore[assignment]
        tracked = _Channel()
        self.built.append(tracked)
        makeConnection = channel.makeConnection

        def connected(transport: Any) -> None:
            tracked.transport = transport
            makeConnection(transport)

        channel.makeConnection = connected  # type: ignore[method-assign]
        return channel


class LargeMessages(TransportHarness):
    bufferKind: Any
    #: Served by a twisted.web site (WebSocketResource) rather than Server.
    overWeb = False

    def setUp(self) -> None:
        super().setUp()
        self.patch(hybi, "PayloadBuffer", self.bufferKind)  # type: ignore[attr-defined]
        self.app = echoApplication()
        layer = WebSocket(
            self.app,
            clock=self.reactor,
            maxMessageSize=LIMIT,
            pingInterval=None,
            hixieIdleTimeout=None,
        )
        if self.overWeb:
            root = Resource()
            root.putChild(b"chat", WebSocketResource(layer))
            self.server: Any = _Site(root, self.reactor)
        else:
            self.server = _Server(layer)
        port = self.listen(self.server)
        self.peer = Peer(("127.0.0.1", port.getHost().port))
        self.peers.append(self.peer)
        self.peer.send(hybiRequest())
        self.runUntil(lambda: b"\r\n\r\n" in self.peer.received)
        head, _, rest = bytes(self.peer.received).partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        self.peer.received = bytearray(rest)
        self.decoder = FrameDecoder(maxMessageSize=1 << 30, expectMasked=False)
        self.events: list[Any] = []

    def sendCut(self, wire: bytes, cuts: list[int]) -> None:
        """Send C{wire} in pieces cut at C{cuts}, the server reading each."""
        edges = [0, *sorted(cuts), len(wire)]
        for start, stop in pairwise(edges):
            self.peer.send(wire[start:stop])
            for _ in range(3):
                self.iterate(0)

    def received(self, count: int) -> list[Any]:
        """Wait for C{count} frames from the server; return them decoded."""

        def decoded() -> bool:
            if self.peer.received:
                self.events += self.decoder.feed(bytes(self.peer.received))
                self.peer.received.clear()
            return len(self.events) >= count

        self.runUntil(decoded)
        return self.events

    def everyCut(self, frames: list[bytes]) -> list[list[int]]:
        """Ways to cut frames: inside each header, across them, in the payloads."""
        wire = b"".join(frames)
        starts = [sum(map(len, frames[:i])) for i in range(len(frames))]
        return [
            [],
            [start + offset for start in starts for offset in (1, 2, 5, 9, 13)],
            list(range(50_000, len(wire), 50_000)),
            list(range(1, len(wire), 65_536)),
            [start + PAYLOAD_BUFFER_SIZE for start in starts],
        ]

    def test_echoes(self) -> None:
        """
        Large messages with small frames, a ping and a close around them
        come back whole and in order, however the reads are cut.
        """
        data = pattern(LARGE)
        text = "é€x" * (LARGE // 6)
        frames = [
            textFrame("a"),
            binaryFrame(data),
            pingFrame(b"p"),
            binaryFrame(b"small"),
            textFrame(text),
        ]
        expected: list[Any] = ["a", data, Pong(b"p"), b"small", text]
        direct = self.countDirectReads()
        for cuts in self.everyCut(frames):
            self.events = []
            self.sendCut(b"".join(frames), cuts)
            self.assertEqual(self.received(len(expected)), expected, cuts)
        self.peer.send(closeFrame(1000))
        self.assertEqual(self.received(len(expected) + 1)[-1], Close(1000, ""))
        # Our transport read payloads straight into their messages.
        self.assertEqual(bool(direct), self.writeThrough)

    def countDirectReads(self) -> list[int]:
        """Note the count of each read our transport makes into a buffer."""
        counts: list[int] = []
        original = WriteThroughConnection._readIntoBuffer

        def counting(transport: Any, window: memoryview) -> Any:
            counts.append(len(window))
            return original(transport, window)

        self.patch(WriteThroughConnection, "_readIntoBuffer", counting)  # type: ignore[attr-defined]
        return counts

    def test_invalidUtf8FailsBeforeTheEnd(self) -> None:
        """
        Invalid UTF-8 early in a large text frame closes with 1007 before
        the rest of the frame is sent.
        """
        wire = hybi.encodeFrame(
            hybi.Opcode.TEXT, b"a" * 100_000 + b"\xc0" + b"a" * LARGE, mask=b"abcd"
        )
        self.sendCut(wire[:150_000], [70_000])
        self.assertEqual(self.received(1), [Close(1007, "invalid UTF-8 in text")])
        self.runUntil(lambda: self.peer.eof or self.peer.reset)

    def test_oversized(self) -> None:
        """A frame announced over the limit closes with 1009 at its header."""
        wire = binaryFrame(pattern(LIMIT + 1))
        self.peer.send(wire[:20])
        self.assertEqual(self.received(1)[0].code, 1009)

    def test_peerVanishesMidMessage(self) -> None:
        """Half a large message, then the peer goes: closed, nothing delivered."""
        self.sendCut(binaryFrame(pattern(LARGE))[: LARGE // 2], [1000])
        self.peer.close()
        self.runUntil(lambda: "onClose" in self.app.callbacks())
        self.assertEqual(self.app.callbacks(), ["onOpen", "onClose"])


for _transport, _reactor in MATRIX:
    for _name, _kind in BUFFERS.items():
        for _overWeb in (False, True):
            _class = f"LargeMessages_{_transport}_{_reactor}_{_name}" + ("_web" if _overWeb else "")
            globals()[_class] = type(
                _class,
                (LargeMessages, SynchronousTestCase),
                {
                    "transportName": _transport,
                    "reactorName": _reactor,
                    "bufferKind": _kind,
                    "overWeb": _overWeb,
                    "__module__": __name__,
                },
            )
