"""
A broadcast -- a L{Composite} of L{SendMessage}s of one message object to
many connections -- is encoded once per frame format (RFC 6455/HyBi, Hixie),
not once per client: counted by patching the codecs' encoders, and seen in
the identity of the frame bytes written to each transport.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.commands import Composite, SendMessage
from ratchet_tx.examples.chat import Chat
from ratchet_tx.hub import LocalHub, useHub
from ratchet_tx.websocket import BinaryNotSupported
from ratchet_tx.websocket.codecs import hixie, hybi
from ratchet_tx.websocket.codecs.events import Close
from tests.support.apps import LogCapture, RecordingApplication
from tests.websocket.helpers import (
    Harness,
    Peer,
    binaryFrame,
    hixieText,
    hybiRequest,
    textFrame,
)


class Counter:
    """Wraps a function and counts its calls."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        return self.function(*args)


class BroadcastTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.hybiText = Counter(hybi.frameText)
        self.hybiBinary = Counter(hybi.frameBinary)
        self.hixieText = Counter(hixie.encodeText)
        self.patch(hybi, "frameText", self.hybiText)
        self.patch(hybi, "frameBinary", self.hybiBinary)
        self.patch(hixie, "encodeText", self.hixieText)
        # The chat example's room lives in the process's hub: each test its own.
        self.addCleanup(useHub, useHub(LocalHub()))

    def everyGeneration(self, harness: Harness) -> tuple[list[Peer], list[Peer]]:
        """Connect three RFC 6455, two HyBi-10, one HyBi-07, three Hixie clients."""
        hybiPeers = [harness.open(hybiRequest(wire)) for wire in (13, 13, 13, 8, 8, 7)]
        hixiePeers = [harness.openHixie76(), harness.openHixie76(), harness.openHixie75()]
        for peer in hybiPeers + hixiePeers:
            peer.output()
            peer.transport.writes.clear()
        return hybiPeers, hixiePeers

    def test_textEncodedOncePerFrameFormat(self) -> None:
        harness = Harness(RecordingApplication())
        hybiPeers, hixiePeers = self.everyGeneration(harness)
        message = "to everyone: " + "☃" * 100
        Composite(SendMessage(peer.conn, message) for peer in hybiPeers + hixiePeers).execute()
        self.assertEqual(self.hybiText.calls, 1)
        self.assertEqual(self.hixieText.calls, 1)
        hybiFrames = [peer.transport.writes for peer in hybiPeers]
        hixieFrames = [peer.transport.writes for peer in hixiePeers]
        # One write each, and the very same bytes object for every client of
        # one format.
        for writes in hybiFrames + hixieFrames:
            self.assertEqual(len(writes), 1)
        for writes in hybiFrames[1:]:
            self.assertIs(writes[0], hybiFrames[0][0])
        for writes in hixieFrames[1:]:
            self.assertIs(writes[0], hixieFrames[0][0])
        for peer in hybiPeers:
            self.assertEqual(peer.frames(), [message])
        for peer in hixiePeers:
            self.assertEqual(peer.hixieFrames(), [message])

    def test_chatBroadcastFromTheApplication(self) -> None:
        """The chat example's broadcast, through the server's dispatch."""
        harness = Harness(Chat())
        hybiPeers, hixiePeers = self.everyGeneration(harness)
        sender, *receivers = hybiPeers
        sender.receive(textFrame("hello, all"))
        self.assertEqual(self.hybiText.calls, 1)
        self.assertEqual(self.hixieText.calls, 1)
        self.assertEqual(sender.frames(), [])
        for peer in receivers:
            self.assertEqual(peer.frames(), ["hello, all"])
        for peer in hixiePeers:
            self.assertEqual(peer.hixieFrames(), ["hello, all"])
        # From a Hixie client too.
        hixiePeers[0].receive(hixieText("from the past"))
        self.assertEqual(self.hybiText.calls, 2)
        self.assertEqual(self.hixieText.calls, 2)
        self.assertEqual(hixiePeers[0].hixieFrames(), [])
        self.assertEqual(hixiePeers[2].hixieFrames(), ["from the past"])
        for peer in hybiPeers:
            self.assertEqual(peer.frames(), ["from the past"])

    def test_binaryIntoAChatWithAHixieClient(self) -> None:
        """
        In the chat example, a modern client sending a binary message into a
        room that holds a Hixie client: the message reaches every client that
        can take it, the failure is the Hixie client's (C{onError} gets its
        connection, and the chat closes it), and the sender stays connected.
        """
        log = LogCapture(self)
        harness = Harness(Chat())
        sender, other = harness.open(), harness.open(hybiRequest(8))
        hixieClient = harness.openHixie76()
        sender.frames()
        other.frames()
        hixieClient.output()
        sender.receive(binaryFrame(b"\x89PNG..."))
        self.assertEqual(len(log.failuresOf(BinaryNotSupported)), 1)
        self.flushLoggedErrors(BinaryNotSupported)
        self.assertEqual(other.frames(), [b"\x89PNG..."])
        # Chat.onError answers CloseConnection(conn): the Hixie client's.
        self.assertEqual(hixieClient.output(), b"\xff\x00")
        self.assertEqual(sender.frames(), [])
        self.assertFalse(sender.closed)
        sender.receive(textFrame("still here"))
        self.assertEqual(other.frames(), ["still here"])

    def test_failedSendReportedForItsTarget(self) -> None:
        """C{onError} gets the connection the failing C{SendMessage} was for."""
        harness = Harness(
            RecordingApplication(
                onMessage=lambda conn, message: Composite(
                    SendMessage(c, b"bin") for c in harness.layer.connections
                )
            )
        )
        rfc, hixieClient = harness.open(), harness.openHixie76()
        rfc.receive(textFrame("go"))
        [(name, conn, failure)] = [e for e in harness.app.events if e[0] == "onError"]
        self.assertIs(conn, hixieClient.conn)
        self.assertTrue(failure.check(BinaryNotSupported))
        self.flushLoggedErrors(BinaryNotSupported)

    def test_broadcastCommandEncodedOncePerFrameFormat(self) -> None:
        """L{Broadcast} frames its message once per format, like a Composite."""
        from ratchet_tx.commands import Broadcast

        harness = Harness(RecordingApplication())
        hybiPeers, hixiePeers = self.everyGeneration(harness)
        message = "to all, at once"
        Broadcast([peer.conn for peer in hybiPeers + hixiePeers], message).execute()
        self.assertEqual((self.hybiText.calls, self.hixieText.calls), (1, 1))
        for peer in hybiPeers:
            self.assertEqual(peer.frames(), [message])
        for peer in hixiePeers:
            self.assertEqual(peer.hixieFrames(), [message])

    def test_binaryEncodedOnce(self) -> None:
        app = RecordingApplication()
        harness = Harness(app)
        hybiPeers, hixiePeers = self.everyGeneration(harness)
        message = bytes(range(256)) * 4
        for peer in hybiPeers:
            SendMessage(peer.conn, message).execute()
        self.assertEqual(self.hybiBinary.calls, 1)
        first = hybiPeers[0].transport.writes[0]
        for peer in hybiPeers:
            self.assertIs(peer.transport.writes[0], first)
            self.assertEqual(peer.frames(), [message])
        for peer in hixiePeers:
            self.assertRaises(BinaryNotSupported, peer.conn.send, message)

    def test_successiveMessagesAreNotConfused(self) -> None:
        """The cache never serves the frame of an earlier message."""
        harness = Harness(RecordingApplication())
        hybiPeers, hixiePeers = self.everyGeneration(harness)
        peers = hybiPeers + hixiePeers
        texts = ["one", "two", "".join(["o", "ne"]), "two"]
        for text in texts:
            Composite(SendMessage(peer.conn, text) for peer in peers).execute()
        for peer in hybiPeers:
            self.assertEqual(peer.frames(), texts)
        for peer in hixiePeers:
            self.assertEqual(peer.hixieFrames(), texts)

    def test_textAndBinaryOfTheSameContent(self) -> None:
        harness = Harness(RecordingApplication())
        peer = harness.open()
        peer.frames()
        peer.conn.send("abc")
        peer.conn.send(b"abc")
        peer.conn.send("abc")
        self.assertEqual(peer.frames(), ["abc", b"abc", "abc"])

    def test_mutableBytesAreNeverCached(self) -> None:
        harness = Harness(RecordingApplication())
        first, second = harness.open(), harness.open()
        first.frames()
        second.frames()
        buffer = bytearray(b"before")
        first.conn.send(buffer)
        buffer[:] = b"after!"
        second.conn.send(buffer)
        self.assertEqual(first.frames(), [b"before"])
        self.assertEqual(second.frames(), [b"after!"])

    def test_eachLayerEncodesForItsOwnClients(self) -> None:
        """Two servers in one process do not share (or spoil) a cache."""
        one, two = Harness(RecordingApplication()), Harness(RecordingApplication())
        a, b = one.open(), two.open()
        a.frames()
        b.frames()
        message = "shared object"
        a.conn.send(message)
        b.conn.send(message)
        self.assertEqual(a.frames(), [message])
        self.assertEqual(b.frames(), [message])

    def test_broadcastSurvivesAClosedClient(self) -> None:
        harness = Harness(RecordingApplication())
        peers = [harness.open() for _ in range(4)]
        for peer in peers:
            peer.frames()
        peers[1].sendClose(1000)
        peers[1].frames()
        Composite(SendMessage(peer.conn, "still") for peer in peers).execute()
        self.assertEqual(peers[1].frames(), [])
        for peer in (peers[0], peers[2], peers[3]):
            self.assertEqual(peer.frames(), ["still"])
        self.assertEqual(self.hybiText.calls, 1)


class HeldWritesTests(SynchronousTestCase):
    """
    What the application sends to any peer while the layer handles one read
    goes to each peer in one write, in order; a send at any other time is
    written at once.
    """

    def setUp(self) -> None:
        self.harness = Harness(Chat())
        self.sender, *self.receivers = [self.harness.open() for _ in range(3)]
        for peer in (self.sender, *self.receivers):
            peer.output()
            peer.transport.writes.clear()

    def test_aReadsBroadcastsInOneWritePerPeer(self) -> None:
        self.sender.receive(textFrame("one") + textFrame("two") + textFrame("three"))
        for peer in self.receivers:
            self.assertEqual(len(peer.transport.writes), 1)
            self.assertEqual(peer.frames(), ["one", "two", "three"])

    def test_sendOutsideAReadIsWrittenAtOnce(self) -> None:
        conn = self.receivers[0].conn
        conn.send("now")
        conn.send("and now")
        self.assertEqual(len(self.receivers[0].transport.writes), 2)
        self.assertEqual(self.receivers[0].frames(), ["now", "and now"])

    def test_heldDataGoesBeforeAClose(self) -> None:
        receiver = self.receivers[0]

        def sendThenClose(conn, message):
            receiver.conn.send(message)
            receiver.conn.close(4000, "bye")

        self.harness.app.onMessage = sendThenClose
        self.sender.receive(textFrame("last words"))
        self.assertEqual(receiver.frames(), ["last words", Close(4000, "bye")])

    def test_heldDataGoesBeforeAHixie75Close(self) -> None:
        """Draft 75 closes by closing TCP: what was held is written first."""
        receiver = self.harness.openHixie75()
        receiver.output()

        def sendThenClose(conn, message):
            receiver.conn.send(message)
            receiver.conn.close()

        self.harness.app.onMessage = sendThenClose
        self.sender.receive(textFrame("last words"))
        self.assertEqual(receiver.hixieFrames(), ["last words"])
        self.assertTrue(receiver.closed)


_operations = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 3), st.text(max_size=5)),
        st.tuples(st.just("close"), st.integers(0, 3), st.integers(4000, 4999)),
    ),
    max_size=20,
)


class HeldWritesPropertyTests(SynchronousTestCase):
    """
    However sends and closes to several connections interleave while one
    read is handled, each peer gets what was sent to it, in order, and then
    its close frame; nothing sent after its close.
    """

    @given(_operations, st.integers(1, 3))
    @settings(max_examples=150, deadline=None)
    def test_eachPeerGetsItsOwnSequence(self, operations, framesInTheRead) -> None:
        harness = Harness(RecordingApplication())
        peers = [harness.open() for _ in range(4)]
        for peer in peers:
            peer.output()
        expected: list[list[object]] = [[] for _ in peers]
        closed: set[int] = set()
        for kind, index, argument in operations:
            if index in closed:
                continue
            if kind == "send":
                expected[index].append(argument)
            else:
                expected[index].append(Close(argument, ""))
                closed.add(index)
        done = []

        def carryOutOnce(conn, message):
            if done:
                return
            done.append(True)
            for kind, index, argument in operations:
                target = peers[index].conn
                if kind == "send":
                    target.send(argument)
                else:
                    target.close(argument)

        harness.app.answers["onMessage"] = carryOutOnce
        peers[0].receive(b"".join(textFrame(f"go {n}") for n in range(framesInTheRead)))
        for index, peer in enumerate(peers):
            self.assertEqual(peer.frames(), expected[index], index)
