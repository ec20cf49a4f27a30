"""
Frames for Hixie-76 and Hixie-75 clients through C{Server(WebSocket(app))}:
0x00..0xFF text frames, the 0xFF 0x00 closing handshake, the message size
limit, and binary messages, which those drafts cannot carry.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.commands import CloseConnection, Composite, SendMessage
from ratchet_tx.websocket import BinaryNotSupported, CloseCode, State, WebSocketVersion
from ratchet_tx.websocket.codecs.events import Close
from tests.support.apps import LogCapture, RecordingApplication
from tests.websocket.helpers import (
    HIXIE_CLOSE,
    SAMPLE_ANSWER,
    SAMPLE_KEY3,
    Harness,
    RecordingTransport,
    echoApplication,
    hixie75Request,
    hixie76Request,
    hixieText,
    loggedLines,
    textFrame,
)


def messages(app: RecordingApplication) -> list[str | bytes]:
    return [event[2] for event in app.events if event[0] == "onMessage"]


class _Both:
    """Run each test for a Hixie-76 and a Hixie-75 client."""

    def openers(self):
        return [
            ("hixie-76", lambda harness, **kw: harness.openHixie76(**kw)),
            ("hixie-75", lambda harness, **kw: harness.openHixie75(**kw)),
        ]


class HixieMessageTests(_Both, SynchronousTestCase):
    def test_textFramesInEveryChunking(self) -> None:
        stream = hixieText("hello") + hixieText("") + hixieText("wörld ☃") + hixieText("x" * 300)
        for name, open_ in self.openers():
            for size in range(1, len(stream) + 1):
                harness = Harness()
                peer = open_(harness)
                peer.receive(stream, chunkSize=size)
                expected = ["hello", "", "wörld ☃", "x" * 300]
                self.assertEqual(messages(harness.app), expected, f"{name}, size {size}")
                self.assertEqual(peer.hixieFrames(), expected)

    def test_sendIsATextFrame(self) -> None:
        for name, open_ in self.openers():
            harness = Harness()
            peer = open_(harness)
            peer.output()
            peer.conn.send("héllo")
            self.assertEqual(peer.output(), b"\x00h\xc3\xa9llo\xff", name)

    def test_otherFrameTypesAreSkipped(self) -> None:
        """
        Sentinel frames of another type than 0x00 and length-prefixed frames
        (0x80 and up) are read past and dropped, as the drafts say.
        """
        harness = Harness()
        peer = harness.openHixie76()
        peer.receive(b"\x01ignored\xff" + b"\x80\x03abc" + b"\x81\x81\x00" + b"z" * 128
                     + hixieText("kept"))
        self.assertEqual(messages(harness.app), ["kept"])
        self.assertFalse(peer.closed)

    def test_noPingsToHixie(self) -> None:
        harness = Harness()
        peer = harness.openHixie76()
        peer.output()
        peer.conn.ping(b"x")
        self.assertEqual(peer.output(), b"")


class HixieClosingTests(_Both, SynchronousTestCase):
    def setUp(self) -> None:
        self.log = LogCapture(self)

    def test_clientCloses(self) -> None:
        """0xFF 0x00 from the client: answered in kind, then TCP closed."""
        for size in (1, 2):
            harness = Harness()
            peer = harness.openHixie76(transport=RecordingTransport(disconnectAtOnce=False))
            peer.output()
            peer.receive(hixieText("last") + HIXIE_CLOSE + hixieText("after"), chunkSize=size)
            self.assertEqual(messages(harness.app), ["last"])
            self.assertEqual(peer.hixieFrames(), ["last", Close()])
            self.assertTrue(peer.closed)
            self.assertFalse(peer.aborted)
            peer.transport.reportLost()
            self.assertEqual(harness.app.callbacks(), ["onOpen", "onMessage", "onClose"])
            self.assertEqual(peer.conn.closeCode, CloseCode.NO_STATUS)

    def test_serverCloses(self) -> None:
        app = echoApplication(onMessage=lambda conn, message: CloseConnection(conn))
        harness = Harness(app)
        peer = harness.connect(RecordingTransport(disconnectAtOnce=False))
        peer.receive(hixie76Request() + SAMPLE_KEY3)
        self.assertEqual(peer.response().body, SAMPLE_ANSWER)
        peer.receive(hixieText("close please"))
        self.assertEqual(peer.output(), HIXIE_CLOSE)
        self.assertIs(peer.conn.phase, State.CLOSING)
        self.assertFalse(peer.closed)
        peer.receive(hixieText("crossing") + HIXIE_CLOSE)
        self.assertEqual(messages(harness.app), ["close please"])
        self.assertEqual(peer.output(), b"")
        self.assertTrue(peer.closed)
        peer.transport.reportLost()
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onMessage", "onClose"])
        self.assertEqual(harness.clock.getDelayedCalls(), [])

    def test_closeTimeout(self) -> None:
        """A Hixie-76 client that never answers our 0xFF 0x00 is dropped."""
        harness = Harness(closeTimeout=2)
        peer = harness.openHixie76()
        peer.conn.close()
        harness.clock.advance(1.9)
        self.assertFalse(peer.closed)
        harness.clock.advance(0.2)
        self.assertTrue(peer.aborted)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])

    def test_hixie75CloseIsImmediate(self) -> None:
        """
        Draft 75 has no closing handshake (0xFF 0x00 is new in draft 76: a
        Hixie-75 browser reads it as an empty length-prefixed frame, discards
        it, and never answers).  Closing such a client closes TCP at once.
        """
        harness = Harness(closeTimeout=5)
        peer = harness.openHixie75()
        peer.conn.close()
        self.assertTrue(peer.closed)
        self.assertFalse(peer.aborted)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])

    def test_messageTooLarge(self) -> None:
        for name, open_ in self.openers():
            harness = Harness(maxMessageSize=100)
            peer = open_(harness)
            peer.output()
            peer.receive(hixieText("x" * 100))
            self.assertEqual(messages(harness.app), ["x" * 100])
            self.assertEqual(peer.hixieFrames(), ["x" * 100])
            peer.receive(b"\x00" + b"y" * 101)
            # Draft 75 has no close frame: failing is closing TCP.
            self.assertEqual(peer.output(), b"" if name == "hixie-75" else HIXIE_CLOSE, name)
            self.assertTrue(peer.closed)
            self.assertEqual(peer.conn.closeCode, CloseCode.MESSAGE_TOO_BIG)
            self.assertEqual(harness.app.callbacks(), ["onOpen", "onMessage", "onClose"])
            self.assertTrue(loggedLines(self.log, "protocol error", "1009"))

    def test_messageTooLargeArrivingSlowly(self) -> None:
        """The limit holds for a frame whose end never comes."""
        harness = Harness(maxMessageSize=1000)
        peer = harness.openHixie76()
        peer.receive(b"\x00")
        for _ in range(20):
            if peer.closed:
                break
            peer.receive(b"z" * 100)
        self.assertTrue(peer.closed)
        self.assertEqual(peer.conn.closeCode, CloseCode.MESSAGE_TOO_BIG)

    def test_invalidUtf8(self) -> None:
        harness = Harness()
        peer = harness.openHixie76()
        peer.output()
        peer.receive(b"\x00\xc3\x28\xff")
        self.assertEqual(peer.output(), HIXIE_CLOSE)
        self.assertTrue(peer.closed)
        self.assertEqual(peer.conn.closeCode, CloseCode.INVALID_PAYLOAD)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])
        self.assertTrue(loggedLines(self.log, "protocol error", "1007"))

    def test_otherConnectionsCarryOn(self) -> None:
        harness = Harness(maxMessageSize=10)
        bad, good = harness.openHixie76(), harness.openHixie75()
        good.output()
        bad.receive(hixieText("far too long for the limit"))
        self.assertTrue(bad.closed)
        good.receive(hixieText("fine"))
        self.assertEqual(good.hixieFrames(), ["fine"])


class BinaryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.log = LogCapture(self)

    def test_bytesToAHixieClientReachOnError(self) -> None:
        app = echoApplication(
            onMessage=lambda conn, message: SendMessage(conn, message.encode())
        )
        harness = Harness(app)
        peer = harness.openHixie76()
        peer.output()
        peer.receive(hixieText("as bytes, please"))
        [failure] = app.failures()
        self.assertTrue(failure.check(BinaryNotSupported))
        self.assertIsInstance(failure.value, TypeError)
        self.assertEqual(peer.output(), b"")
        self.assertTrue(self.log.failuresOf(BinaryNotSupported))
        self.flushLoggedErrors(BinaryNotSupported)

    def test_directSendRaises(self) -> None:
        harness = Harness()
        for peer in (harness.openHixie76(), harness.openHixie75()):
            self.assertRaises(BinaryNotSupported, peer.conn.send, b"\x00\x01")
            self.assertRaises(BinaryNotSupported, peer.conn.send, bytearray(b"x"))
            self.assertFalse(peer.closed)
            peer.output()
            peer.conn.send("text is fine")
            self.assertEqual(peer.hixieFrames(), ["text is fine"])

    def test_broadcastOfBytesSkipsOnlyHixieClients(self) -> None:
        """
        A binary broadcast reaches every HyBi client; each Hixie client's
        failure goes to C{onError} without stopping the others.
        """
        def broadcast(conn, message):
            return Composite(
                SendMessage(c, b"binary") for c in sorted(harness.layer.connections,
                                                          key=lambda c: c.id)
            )

        app = RecordingApplication(onMessage=broadcast)
        harness = Harness(app)
        hixie1 = harness.openHixie76()
        rfc = harness.open()
        hixie2 = harness.openHixie75()
        hybi8 = harness.open()
        for peer in (hixie1, rfc, hixie2, hybi8):
            peer.output()
        rfc.receive(textFrame("go"))
        self.assertEqual(rfc.frames(), [b"binary"])
        self.assertEqual(hybi8.frames(), [b"binary"])
        self.assertEqual(hixie1.output() + hixie2.output(), b"")
        self.assertEqual(len(app.failures()), 2)
        for failure in app.failures():
            self.assertTrue(failure.check(BinaryNotSupported))
        self.flushLoggedErrors(BinaryNotSupported)


class HixieVersionOnConnectionTests(SynchronousTestCase):
    def test_versions(self) -> None:
        harness = Harness()
        self.assertIs(harness.openHixie76().conn.version, WebSocketVersion.HIXIE_76)
        self.assertIs(harness.openHixie75().conn.version, WebSocketVersion.HIXIE_75)
        self.assertTrue(WebSocketVersion.HIXIE_75.isHixie)

    def test_hixie75WithProtocolAndQuery(self) -> None:
        harness = Harness(subprotocols=["sample"])
        peer = harness.open(hixie75Request("/x?y=z", protocol="sample"))
        self.assertEqual(peer.conn.subprotocol, "sample")
        self.assertEqual(peer.conn.query, "y=z")
