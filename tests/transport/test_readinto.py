"""
Tests for L{WriteThroughConnection.readInto}: reading straight into a
protocol's buffer, on real loopback sockets and every reactor.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.transport.tcp import _TLSWriteThroughServer
from ratchet_tx.websocket.codecs.hybi import PythonPayloadBuffer
from tests.transport.harness import (
    MATRIX,
    Peer,
    Recorder,
    TransportHarness,
    everyTransport,
    pattern,
)


class Filling(Recorder):
    """
    A recorder that, told to, has the transport read the next C{size}
    bytes into a buffer, and notes the buffer's progress at each
    C{dataReceived(b"")}.
    """

    def __init__(self) -> None:
        super().__init__()
        self.buffer: PythonPayloadBuffer | None = None
        self.progress: list[int] = []

    def expect(self, size: int) -> PythonPayloadBuffer:
        self.buffer = PythonPayloadBuffer(size)
        self.transport.readInto(self.buffer)
        return self.buffer

    def dataReceived(self, data: bytes) -> None:
        if not data:
            assert self.buffer is not None
            self.progress.append(self.buffer.filled)
            return
        super().dataReceived(data)


class ReadingIntoABuffer(TransportHarness):
    def test_exactlyTheWindow(self) -> None:
        """
        The buffer gets exactly its size; what follows comes to
        dataReceived as usual.
        """
        server, peer = self.connect(Filling)
        buffer = server.expect(300_000)
        data = pattern(300_000 + 5000)
        peer.send(data)
        self.runUntil(lambda: len(server.received) == 5000)
        self.assertEqual(buffer.take(), data[:300_000])
        self.assertEqual(bytes(server.received), data[300_000:])
        # Each read into the buffer was reported, in order, and none was empty.
        self.assertEqual(server.progress[-1], 300_000)
        self.assertEqual(server.progress, sorted(set(server.progress)))

    def test_trickle(self) -> None:
        """Bytes that come a few at a time fill the buffer in order."""
        server, peer = self.connect(Filling)
        buffer = server.expect(10)
        data = b"0123456789tail"
        for start in range(0, len(data), 3):
            peer.send(data[start : start + 3])
            self.settle(0.01)
        self.runUntil(lambda: len(server.received) == 4)
        self.assertEqual(buffer.take(), b"0123456789")
        self.assertEqual(bytes(server.received), b"tail")

    def test_closedBufferIsLeftAlone(self) -> None:
        """Once the buffer wants no more (closed), reads go to dataReceived."""
        server, peer = self.connect(Filling)
        buffer = server.expect(100)
        peer.send(b"abc")
        self.runUntil(lambda: buffer.filled == 3)
        buffer.close()
        peer.send(b"defg")
        self.runUntil(lambda: len(server.received) == 4)
        self.assertEqual(bytes(server.received), b"defg")

    def test_peerClosesMidBuffer(self) -> None:
        self.assertLostMidBuffer(lambda peer: peer.close(), ConnectionDone)

    def test_peerResetsMidBuffer(self) -> None:
        self.assertLostMidBuffer(lambda peer: peer.abort(), ConnectionLost)

    def assertLostMidBuffer(self, end: Callable[[Peer], object], reason: type) -> None:
        """The peer ends the connection (C{end}) half way through a buffer."""
        server, peer = self.connect(Filling)
        buffer = server.expect(100_000)
        peer.send(b"x" * 1000)
        self.runUntil(lambda: buffer.filled == 1000)
        end(peer)
        self.runUntil(lambda: server.lost)
        server.lost[0].trap(reason)

    def test_notReadingWhilePaused(self) -> None:
        """A paused transport reads nothing into the buffer either."""
        server, peer = self.connect(Filling)
        buffer = server.expect(10)
        server.transport.pauseProducing()
        peer.send(b"0123456789")
        self.settle()
        self.assertEqual(buffer.filled, 0)
        server.transport.resumeProducing()
        self.runUntil(lambda: buffer.filled == 10)


globals().update(
    everyTransport(ReadingIntoABuffer, [pair for pair in MATRIX if pair[0] == "writethrough"])
)


class TLSTests(SynchronousTestCase):
    """Once TLS is started, the socket holds records: no reading into a buffer."""

    def test_ignoredUnderTLS(self) -> None:
        transport = _TLSWriteThroughServer.__new__(_TLSWriteThroughServer)
        transport.TLS = True
        transport.readInto(PythonPayloadBuffer(10))
        self.assertIsNone(transport._readBuffer)

    def test_takenBeforeTLS(self) -> None:
        transport = _TLSWriteThroughServer.__new__(_TLSWriteThroughServer)
        transport.TLS = False
        buffer = PythonPayloadBuffer(10)
        transport.readInto(buffer)
        self.assertIs(transport._readBuffer, buffer)
