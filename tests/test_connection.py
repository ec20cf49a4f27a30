"""
Tests for L{ratchet_tx.connection}: the socket end of a connection and a
protocol layer's view of it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx import connection
from ratchet_tx.connection import ConnectionDecorator, HeldWrites, TransportConnection
from ratchet_tx.flow import FlowControl, SlowConsumer
from ratchet_tx.server import Server
from ratchet_tx.websocket.codecs.pieces import Pieces
from tests.support.apps import CountingTransport, RecordingApplication, connectTo


class Shouting(ConnectionDecorator):
    """A protocol layer that frames every message in upper case."""

    def send(self, message: str | bytes) -> None:
        self.wrapped.send(message.upper())


class IdentityTests(SynchronousTestCase):
    def test_idsAreUnique(self) -> None:
        ids = {TransportConnection(StringTransport()).id for _ in range(1000)}
        self.assertEqual(len(ids), 1000)

    def test_idIsAnInt(self) -> None:
        self.assertIsInstance(TransportConnection(StringTransport()).id, int)

    def test_idIsStable(self) -> None:
        conn = TransportConnection(StringTransport())
        first = conn.id
        conn.send(b"x")
        conn.close()
        self.assertEqual(conn.id, first)

    def test_addressesComeFromTheTransport(self) -> None:
        peer = IPv4Address("TCP", "198.51.100.7", 50123)
        host = IPv4Address("TCP", "127.0.0.1", 8080)
        conn = TransportConnection(StringTransport(hostAddress=host, peerAddress=peer))
        self.assertEqual((conn.remoteAddress, conn.localAddress), (peer, host))

    def test_reprNamesIdAndPeer(self) -> None:
        peer = IPv4Address("TCP", "198.51.100.7", 50123)
        conn = TransportConnection(StringTransport(peerAddress=peer))
        self.assertIn(f"#{conn.id}", repr(conn))
        self.assertIn("198.51.100.7:50123", repr(conn))

    def test_transportIsTheOneGiven(self) -> None:
        transport = StringTransport()
        self.assertIs(TransportConnection(transport).transport, transport)


class StateTests(SynchronousTestCase):
    def test_stateIsANamespace(self) -> None:
        self.assertIsInstance(TransportConnection(StringTransport()).state, SimpleNamespace)

    def test_stateIsKept(self) -> None:
        conn = TransportConnection(StringTransport())
        conn.state.nickname = "alice"
        self.assertEqual(conn.state.nickname, "alice")

    def test_stateIsPerConnection(self) -> None:
        a = TransportConnection(StringTransport())
        b = TransportConnection(StringTransport())
        a.state.nickname = "alice"
        self.assertFalse(hasattr(b.state, "nickname"))

    def test_stateIsSharedBetweenDecoratorAndWrapped(self) -> None:
        inner = TransportConnection(StringTransport())
        outer = ConnectionDecorator(inner)
        outer.state.user = "alice"
        inner.state.room = "lobby"
        self.assertEqual((inner.state.user, outer.state.room), ("alice", "lobby"))
        self.assertIs(inner.state, outer.state)

    def test_stateIsSharedThroughEveryLayer(self) -> None:
        inner = TransportConnection(StringTransport())
        outer = Shouting(ConnectionDecorator(inner))
        outer.state.user = "alice"
        self.assertEqual(inner.state.user, "alice")


class DecoratorTests(SynchronousTestCase):
    def test_identityAndAddressesAreTheWrappedOnes(self) -> None:
        inner = TransportConnection(StringTransport())
        outer = Shouting(ConnectionDecorator(inner))
        self.assertEqual(
            (outer.id, outer.remoteAddress, outer.localAddress),
            (inner.id, inner.remoteAddress, inner.localAddress),
        )

    def test_closedIsShared(self) -> None:
        inner = TransportConnection(StringTransport())
        outer = ConnectionDecorator(inner)
        self.assertFalse(outer.closed)
        inner.close()
        self.assertTrue(outer.closed)

    def test_closingTheDecoratorClosesTheSocket(self) -> None:
        transport = StringTransport()
        outer = ConnectionDecorator(TransportConnection(transport))
        outer.close(1000, "bye")
        self.assertTrue(transport.disconnecting)
        self.assertTrue(outer.closed)

    def test_abortingTheDecoratorAbortsTheSocket(self) -> None:
        transport = CountingTransport()
        outer = ConnectionDecorator(TransportConnection(transport))
        outer.abort()
        self.assertEqual(transport.abortConnectionCalls, 1)

    def test_sendGoesThroughTheLayer(self) -> None:
        transport = StringTransport()
        Shouting(TransportConnection(transport)).send(b"hi")
        self.assertEqual(transport.value(), b"HI")

    def test_transportConnectionIsTheInnermost(self) -> None:
        inner = TransportConnection(StringTransport())
        outer = Shouting(ConnectionDecorator(ConnectionDecorator(inner)))
        self.assertIs(outer.transportConnection, inner)

    def test_viewIsTheConnectionItselfUntilDecorated(self) -> None:
        conn = TransportConnection(StringTransport())
        self.assertIs(conn.view, conn)

    def test_viewIsTheOutermostDecorator(self) -> None:
        """What the application sees; closing "through the view" frames it right."""
        inner = TransportConnection(StringTransport())
        middle = ConnectionDecorator(inner)
        outer = Shouting(middle)
        self.assertIs(inner.view, outer)

    def test_reprNamesIdAndPeer(self) -> None:
        outer = ConnectionDecorator(TransportConnection(StringTransport()))
        self.assertIn(f"#{outer.id}", repr(outer))
        self.assertIn("ConnectionDecorator", repr(outer))


class RawSendTests(SynchronousTestCase):
    def test_bytesAreWrittenAsTheyAre(self) -> None:
        transport = StringTransport()
        TransportConnection(transport).send(b"\x00\xffraw")
        self.assertEqual(transport.value(), b"\x00\xffraw")

    def test_strIsSentAsUTF8(self) -> None:
        transport = StringTransport()
        TransportConnection(transport).send("héllo ☃ 🐍")
        self.assertEqual(transport.value(), "héllo ☃ 🐍".encode())

    def test_messagesAreWrittenInOrder(self) -> None:
        transport = StringTransport()
        conn = TransportConnection(transport)
        for part in (b"one ", "two ", b"three"):
            conn.send(part)
        self.assertEqual(transport.value(), b"one two three")

    def test_sendAfterCloseIsDropped(self) -> None:
        transport = StringTransport()
        conn = TransportConnection(transport)
        conn.send(b"before")
        conn.close()
        conn.send(b"after")
        conn.send("after too")
        self.assertEqual(transport.value(), b"before")

    def test_sendAfterAbortIsDropped(self) -> None:
        transport = StringTransport()
        conn = TransportConnection(transport)
        conn.abort()
        conn.send(b"after")
        self.assertEqual(transport.value(), b"")

    def test_sendThroughADecoratorAfterCloseIsDropped(self) -> None:
        transport = StringTransport()
        outer = ConnectionDecorator(TransportConnection(transport))
        outer.close()
        outer.send(b"after")
        self.assertEqual(transport.value(), b"")


class RecordingWrites(StringTransport):
    """A transport that keeps each write (and writeSequence) as one call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.calls.append(data)
        super().write(data)

    def writeSequence(self, data) -> None:
        self.calls.append(b"".join(data))
        super().writeSequence(data)


class HeldWritesTests(SynchronousTestCase):
    """
    While a read is handled (L{HeldWrites.hold} to L{HeldWrites.release}),
    what is written to any connection is held and goes to its transport in
    one call, in order; at any other time a write goes at once.
    """

    def setUp(self) -> None:
        self.held = HeldWrites()
        self.patch(connection, "heldWrites", self.held)

    def test_heldUntilReleased(self) -> None:
        transport = RecordingWrites()
        conn = TransportConnection(transport)
        self.held.hold()
        conn.send(b"one ")
        conn.write(b"two ")
        conn.send("three")
        self.assertEqual(transport.calls, [])
        self.held.release()
        self.assertEqual(transport.calls, [b"one two three"])

    def test_eachConnectionItsOwnWrite(self) -> None:
        first, second = RecordingWrites(), RecordingWrites()
        a, b = TransportConnection(first), TransportConnection(second)
        self.held.hold()
        a.send(b"a1")
        b.send(b"b1")
        a.send(b"a2")
        self.held.release()
        self.assertEqual((first.calls, second.calls), ([b"a1a2"], [b"b1"]))

    def test_nestedReadsReleaseOnce(self) -> None:
        transport = RecordingWrites()
        conn = TransportConnection(transport)
        self.held.hold()
        self.held.hold()
        conn.send(b"x")
        self.held.release()
        self.assertEqual(transport.calls, [])
        self.held.release()
        self.assertEqual(transport.calls, [b"x"])

    def test_writtenAtOnceOutsideARead(self) -> None:
        transport = RecordingWrites()
        conn = TransportConnection(transport)
        conn.send(b"now")
        conn.send(b"again")
        self.assertEqual(transport.calls, [b"now", b"again"])

    def test_heldDataGoesBeforeTheClose(self) -> None:
        transport = RecordingWrites()
        conn = TransportConnection(transport)
        self.held.hold()
        conn.send(b"last words")
        conn.close()
        self.assertEqual(transport.calls, [b"last words"])
        self.assertTrue(transport.disconnecting)
        conn.send(b"after")
        self.held.release()
        self.assertEqual(transport.calls, [b"last words"])
        self.assertEqual(conn.droppedMessages, 1)

    def test_abortDiscardsWhatIsHeld(self) -> None:
        transport = CountingTransport()
        conn = TransportConnection(transport)
        self.held.hold()
        conn.send(b"lost")
        conn.abort()
        self.held.release()
        self.assertEqual(transport.value(), b"")

    def test_mutableBytesAreCopiedWhenSent(self) -> None:
        transport = RecordingWrites()
        conn = TransportConnection(transport)
        buffer = bytearray(b"before")
        self.held.hold()
        conn.send(buffer)
        conn.send(memoryview(b"-view"))
        buffer[:] = b"after!"
        self.held.release()
        self.assertEqual(transport.calls, [b"before-view"])

    def test_heldBytesCountAsBuffered(self) -> None:
        conn = TransportConnection(RecordingWrites())
        self.held.hold()
        conn.send(b"12345")
        self.assertEqual(conn.bufferedAmount, 5)
        self.held.release()

    def test_eachCountedWhenDroppedWhileBackedUp(self) -> None:
        transport = StringTransport()
        conn = TransportConnection(transport, flow=FlowControl(slowConsumer=SlowConsumer.DROP))
        conn.writesBackedUp()
        for message in (b"a", b"b", b"c"):
            conn.send(message)
        self.assertEqual(conn.droppedMessages, 3)
        self.assertEqual(transport.value(), b"")
        conn.writesDrained()
        conn.send(b"d")
        self.assertEqual(transport.value(), b"d")

    def test_heldBytesCountTowardTheQueueLimit(self) -> None:
        transport = CountingTransport()
        flow = FlowControl(
            slowConsumer=SlowConsumer.QUEUE, highWaterMark=4, maxBuffered=10
        )
        conn = TransportConnection(transport, flow=flow)
        conn.writesBackedUp()
        self.held.hold()
        conn.send(b"123456")
        conn.send(b"789012")  # 6 held: still within the limit
        conn.send(b"x")  # 12 held: over it, so the connection is closed
        self.held.release()
        self.assertEqual(transport.value(), b"123456789012")
        self.assertEqual(transport.loseConnectionCalls, 1)


class CloseTests(SynchronousTestCase):
    def test_closeIsGraceful(self) -> None:
        transport = CountingTransport()
        conn = TransportConnection(transport)
        conn.close()
        self.assertEqual((transport.loseConnectionCalls, transport.abortConnectionCalls), (1, 0))
        self.assertTrue(conn.closed)

    def test_closeTwiceClosesOnce(self) -> None:
        transport = CountingTransport()
        conn = TransportConnection(transport)
        conn.close()
        conn.close(1000, "again")
        self.assertEqual(transport.loseConnectionCalls, 1)

    def test_abortDropsTheConnection(self) -> None:
        transport = CountingTransport()
        conn = TransportConnection(transport)
        conn.abort()
        self.assertEqual(transport.abortConnectionCalls, 1)
        self.assertTrue(conn.closed)

    def test_abortAfterCloseStillAborts(self) -> None:
        """A graceful close that takes too long can be cut short."""
        transport = CountingTransport()
        transport.loseConnection = lambda: None  # the peer never finishes closing
        conn = TransportConnection(transport)
        conn.close()
        conn.abort()
        self.assertEqual(transport.abortConnectionCalls, 1)

    def test_openUntilClosed(self) -> None:
        self.assertFalse(TransportConnection(StringTransport()).closed)


class ReadingTests(SynchronousTestCase):
    def test_pauseAndResumeReading(self) -> None:
        transport = StringTransport()
        conn = TransportConnection(transport)
        conn.pauseReading()
        self.assertEqual(transport.producerState, "paused")
        conn.resumeReading()
        self.assertEqual(transport.producerState, "producing")


class CloseCallbackTests(SynchronousTestCase):
    """L{IConnection.addCloseCallback}: told once the connection is gone."""

    def test_calledAfterOnCloseWithTheApplicationsView(self) -> None:
        calls: list[object] = []
        app = RecordingApplication(
            onOpen=lambda conn: conn.addCloseCallback(lambda c: calls.append(("callback", c))),
            onClose=lambda conn: calls.append(("onClose", conn)),
        )
        server = Server(app)
        proto, transport = connectTo(server)
        conn = proto.connection
        transport.loseConnection()
        self.assertEqual(calls, [("onClose", conn), ("callback", conn)])

    def test_throughADecoratorAndOnceOnly(self) -> None:
        conn = TransportConnection(StringTransport())
        calls: list[object] = []
        Shouting(conn).addCloseCallback(calls.append)
        conn.connectionLost()
        conn.runCloseCallbacks()
        conn.runCloseCallbacks()
        self.assertEqual(len(calls), 1)

    def test_addedAfterwardsIsCalledAtOnce(self) -> None:
        conn = TransportConnection(StringTransport())
        conn.connectionLost()
        conn.runCloseCallbacks()
        calls: list[object] = []
        conn.addCloseCallback(calls.append)
        self.assertEqual(calls, [conn])

    def test_stateAfterTheCallbacksRanIsTheConnectionsOwn(self) -> None:
        """
        Connections closed without callbacks or state share what says so;
        the state asked of one afterwards is still its own, and a callback
        added to it is still called at once.
        """
        first, second = (TransportConnection(StringTransport()) for _ in range(2))
        for conn in (first, second):
            conn.connectionLost()
            conn.runCloseCallbacks()
        first.state.name = "first"
        self.assertFalse(hasattr(second.state, "name"))
        calls: list[object] = []
        first.addCloseCallback(calls.append)
        self.assertEqual(calls, [first])

    def test_aFailingCallbackIsLoggedAndTheOthersRun(self) -> None:
        conn = TransportConnection(StringTransport())
        calls: list[object] = []

        def fail(c: object) -> None:
            raise RuntimeError("callback bug")

        conn.addCloseCallback(fail)
        conn.addCloseCallback(calls.append)
        conn.runCloseCallbacks()
        self.assertEqual(calls, [conn])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class SequenceRecorder(StringTransport):
    """A transport that keeps each write and writeSequence call as it came."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))
        super().write(data)

    def writeSequence(self, data: Any) -> None:
        pieces = list(data)
        self.calls.append(("writeSequence", pieces))
        super().writeSequence(pieces)


class PiecesTests(SynchronousTestCase):
    """
    A large frame sent as L{Pieces} is written without being joined:
    with C{writeSequence}, in order with everything else held.
    """

    def setUp(self) -> None:
        self.held = HeldWrites()
        self.patch(connection, "heldWrites", self.held)
        self.transport = SequenceRecorder()
        self.conn = TransportConnection(self.transport)
        self.large = b"p" * 100_000
        self.pieces = Pieces((b"HEAD", self.large))

    def test_outsideARead(self) -> None:
        self.conn.send(self.pieces)
        self.assertEqual(self.transport.calls, [("writeSequence", [b"HEAD", self.large])])
        self.assertIs(self.transport.calls[0][1][1], self.large)
        self.assertEqual(self.conn.messagesOut, 1)

    def test_aloneInARead(self) -> None:
        self.held.hold()
        self.conn.send(self.pieces)
        self.assertEqual(self.conn.bufferedAmount, 100_004)
        self.held.release()
        self.assertEqual(self.transport.calls, [("writeSequence", [b"HEAD", self.large])])

    def test_inOrderWithTheRest(self) -> None:
        """Small writes around it are joined; the pieces stay as they are."""
        self.held.hold()
        self.conn.send(b"a")
        self.conn.write(b"b")
        self.conn.send(self.pieces)
        self.conn.send(b"c")
        self.conn.send(self.pieces)
        self.assertEqual(self.conn.bufferedAmount, 3 + 2 * 100_004)
        self.held.release()
        self.assertEqual(
            self.transport.calls,
            [("writeSequence", [b"ab", b"HEAD", self.large, b"c", b"HEAD", self.large])],
        )
        self.assertEqual(self.conn.messagesOut, 4)

    def test_droppedOnceClosed(self) -> None:
        self.conn.close()
        self.conn.send(self.pieces)
        self.assertEqual(self.conn.droppedMessages, 1)
        self.assertEqual(self.transport.calls, [])

    def test_droppedWhileBackedUp(self) -> None:
        conn = TransportConnection(
            self.transport, flow=FlowControl(slowConsumer=SlowConsumer.DROP)
        )
        conn.writesBackedUp()
        conn.send(self.pieces)
        self.assertEqual((conn.droppedMessages, self.transport.calls), (1, []))

    def test_queuedWhileBackedUp(self) -> None:
        flow = FlowControl(slowConsumer=SlowConsumer.QUEUE, maxBuffered=1 << 20)
        conn = TransportConnection(self.transport, flow=flow)
        conn.writesBackedUp()
        conn.send(self.pieces)
        self.assertEqual(self.transport.calls, [("writeSequence", [b"HEAD", self.large])])
