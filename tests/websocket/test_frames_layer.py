"""
Frames after the handshake, for the versions that share RFC 6455's framing
(13, HyBi-10 and HyBi-07): messages, fragmentation, control frames, the
closing handshake, and every way a client can break the protocol, through
C{Server(WebSocket(app))} over in-memory transports.

After any error the connection is closed with the right code, the
application's C{onClose} runs exactly once with C{conn.closeCode} set, a log
line says why, and other connections carry on.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.commands import CloseConnection, Composite, SendMessage
from ratchet_tx.websocket import CloseCode, State, WebSocketVersion
from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.events import Close, Ping, Pong
from tests.support.apps import LogCapture, RecordingApplication, raising
from tests.websocket.helpers import (
    Harness,
    Peer,
    RecordingTransport,
    binaryFrame,
    closeFrame,
    continuationFrame,
    echoApplication,
    frame,
    hybiRequest,
    loggedLines,
    pingFrame,
    pongFrame,
    textFrame,
)

OP = hybi.Opcode
HYBI_WIRE_VERSIONS = (13, 8, 7)


def messages(app: RecordingApplication) -> list[str | bytes]:
    return [event[2] for event in app.events if event[0] == "onMessage"]


class MessageTests(SynchronousTestCase):
    def test_textAndBinaryEchoInEveryVersion(self) -> None:
        for wire in HYBI_WIRE_VERSIONS:
            harness = Harness()
            peer = harness.open(hybiRequest(wire))
            peer.sendText("héllo ☃")
            peer.sendBinary(b"\x00\xff\x80")
            self.assertEqual(messages(harness.app), ["héllo ☃", b"\x00\xff\x80"])
            self.assertEqual(peer.frames(), ["héllo ☃", b"\x00\xff\x80"])

    def test_sendStrIsATextFrameAndBytesABinaryFrame(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.output()
        peer.conn.send("text")
        peer.conn.send(b"binary")
        self.assertEqual(
            peer.transport.writes[-2:],
            [b"\x81\x04text", b"\x82\x06binary"],
        )

    def test_sendStrSubclass(self) -> None:
        """
        A C{str} subclass (an C{enum.StrEnum} member, a template library's
        markup string) is text too.
        """

        class Markup(str):
            pass

        harness = Harness()
        peer = harness.open()
        peer.frames()
        peer.conn.send(Markup("<b>hi</b>"))
        self.assertEqual(peer.frames(), ["<b>hi</b>"])

    def test_serverFramesAreUnmasked(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.output()
        peer.conn.send("x" * 200)
        data = peer.output()
        self.assertEqual(data[1] & 0x80, 0)

    def test_framesInEveryChunking(self) -> None:
        stream = (
            textFrame("first")
            + binaryFrame(bytes(range(200)))
            + pingFrame(b"are you there")
            + textFrame("ü" * 70)
        )
        for size in range(1, len(stream) + 1):
            harness = Harness()
            peer = harness.open()
            peer.frames()
            peer.receive(stream, chunkSize=size)
            self.assertEqual(
                messages(harness.app), ["first", bytes(range(200)), "ü" * 70], f"size {size}"
            )
            self.assertEqual(
                peer.frames(),
                ["first", bytes(range(200)), Pong(b"are you there"), "ü" * 70],
            )

    def test_lengthEdges(self) -> None:
        """Every length-field boundary, both ways."""
        harness = Harness(maxFrameSize=2**17, maxMessageSize=2**17)
        peer = harness.open()
        peer.frames()
        for length in (0, 1, 125, 126, 127, 65535, 65536, 65537):
            payload = bytes([length % 251]) * length
            peer.sendBinary(payload)
            peer.sendText("t" * length)
            self.assertEqual(peer.frames(), [payload, "t" * length], length)
        self.assertEqual(len(messages(harness.app)), 16)

    def test_severalMessagesInOneRead(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.receive(b"".join(textFrame(str(i)) for i in range(100)))
        self.assertEqual(messages(harness.app), [str(i) for i in range(100)])

    def test_applicationErrorGoesToOnErrorAndConnectionCarriesOn(self) -> None:
        log = LogCapture(self)
        calls = []

        def onMessage(conn, message):
            calls.append(message)
            if message == "boom":
                raise RuntimeError("boom")
            return SendMessage(conn, message)

        app = RecordingApplication(onMessage=onMessage)
        harness = Harness(app)
        peer = harness.open()
        peer.frames()
        peer.sendText("boom")
        peer.sendText("fine")
        self.assertEqual(peer.frames(), ["fine"])
        [failure] = app.failures()
        self.assertTrue(failure.check(RuntimeError))
        self.assertIs(app.events[2][1], peer.conn)
        self.assertTrue(log.failuresOf(RuntimeError))
        self.flushLoggedErrors(RuntimeError)


class FragmentationTests(SynchronousTestCase):
    def test_fragmentedTextWithControlFramesBetween(self) -> None:
        stream = (
            textFrame("Hel", fin=False)
            + pingFrame(b"1")
            + continuationFrame(b"lo, ", fin=False)
            + pongFrame(b"unsolicited")
            + pingFrame(b"2")
            + continuationFrame("wörld".encode())
        )
        for size in range(1, len(stream) + 1):
            harness = Harness()
            peer = harness.open()
            peer.frames()
            peer.receive(stream, chunkSize=size)
            self.assertEqual(messages(harness.app), ["Hello, wörld"], f"size {size}")
            self.assertEqual(
                peer.frames(), [Pong(b"1"), Pong(b"2"), "Hello, wörld"], f"size {size}"
            )

    def test_pongsAnswerBeforeTheMessageEnds(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.frames()
        peer.receive(binaryFrame(b"a", fin=False))
        peer.receive(pingFrame(b"now"))
        self.assertEqual(peer.frames(), [Pong(b"now")])
        self.assertEqual(messages(harness.app), [])
        peer.receive(continuationFrame(b"b"))
        self.assertEqual(messages(harness.app), [b"ab"])

    def test_utf8SplitAcrossFragments(self) -> None:
        encoded = "☃€𝄞".encode()
        harness = Harness()
        peer = harness.open()
        stream = textFrame("", fin=False) + b"".join(
            continuationFrame(encoded[i : i + 1], fin=i == len(encoded) - 1)
            for i in range(len(encoded))
        )
        peer.receive(stream)
        self.assertEqual(messages(harness.app), ["☃€𝄞"])

    def test_manyFragments(self) -> None:
        harness = Harness()
        peer = harness.open()
        parts = [bytes([i]) * 10 for i in range(50)]
        stream = binaryFrame(parts[0], fin=False) + b"".join(
            continuationFrame(part, fin=i == len(parts) - 1) for i, part in enumerate(parts[1:], 1)
        )
        peer.receive(stream)
        self.assertEqual(messages(harness.app), [b"".join(parts)])


class PingTests(SynchronousTestCase):
    def test_pingAnsweredWithItsPayload(self) -> None:
        for wire in HYBI_WIRE_VERSIONS:
            harness = Harness()
            peer = harness.open(hybiRequest(wire))
            peer.frames()
            for payload in (b"", b"x", b"\x00" * 125):
                peer.receive(pingFrame(payload))
                self.assertEqual(peer.frames(), [Pong(payload)])
            self.assertEqual(messages(harness.app), [])

    def test_unsolicitedPongIgnored(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.frames()
        peer.receive(pongFrame(b"hi"))
        self.assertEqual(peer.frames(), [])
        self.assertFalse(peer.closed)

    def test_applicationPing(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.frames()
        peer.conn.ping(b"app")
        self.assertEqual(peer.frames(), [Ping(b"app")])


class ClosingHandshakeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.log = LogCapture(self)

    def test_clientCloses(self) -> None:
        """
        The server answers the client's close with the same code, then
        closes TCP; the application hears of it once.
        """
        for wire in HYBI_WIRE_VERSIONS:
            harness = Harness()
            peer = harness.open(hybiRequest(wire))
            peer.frames()
            peer.sendClose(1001, "leaving")
            [close] = peer.frames()
            self.assertEqual(close.code, 1001)
            self.assertTrue(peer.closed)
            self.assertFalse(peer.aborted)
            self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])
            self.assertEqual(peer.conn.closeCode, 1001)
            self.assertEqual(peer.conn.closeReason, "leaving")
            self.assertIs(peer.conn.phase, State.CLOSED)
            self.assertEqual(harness.clock.getDelayedCalls(), [])

    def test_clientCloseReasonEchoed(self) -> None:
        """The server's answer carries the client's code and reason."""
        harness = Harness()
        peer = harness.open()
        peer.frames()
        peer.sendClose(4001, "bye now")
        self.assertEqual(peer.frames(), [Close(4001, "bye now")])

    def test_clientClosesWithoutCode(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.frames()
        peer.sendClose(None)
        self.assertEqual(peer.frames(), [Close(None, "")])
        self.assertTrue(peer.closed)
        self.assertEqual(peer.conn.closeCode, CloseCode.NO_STATUS)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])

    def test_nothingAfterTheCloseIsDelivered(self) -> None:
        harness = Harness()
        peer = harness.open(transport=RecordingTransport(disconnectAtOnce=False))
        peer.frames()
        peer.receive(textFrame("before") + closeFrame(1000) + textFrame("after"))
        self.assertEqual(messages(harness.app), ["before"])
        self.assertEqual(peer.frames(), ["before", Close(1000, "")])

    def test_applicationCloses(self) -> None:
        app = echoApplication(
            onMessage=lambda conn, message: CloseConnection(conn, 4000, "go away")
        )
        harness = Harness(app)
        peer = harness.connect(RecordingTransport(disconnectAtOnce=False))
        peer.handshake()
        peer.sendText("please close")
        self.assertEqual(peer.frames(), [Close(4000, "go away")])
        self.assertIs(peer.conn.phase, State.CLOSING)
        self.assertFalse(peer.closed)
        # Messages that cross our close are not delivered.
        peer.sendText("crossing")
        self.assertEqual(messages(harness.app), ["please close"])
        peer.sendClose(4000)
        self.assertEqual(peer.frames(), [])
        self.assertTrue(peer.closed)
        peer.transport.reportLost()
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onMessage", "onClose"])
        self.assertEqual(peer.conn.closeCode, 4000)
        self.assertEqual(peer.conn.closeReason, "go away")
        self.assertEqual(harness.clock.getDelayedCalls(), [])

    def test_applicationClosesWithDefaultCode(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.frames()
        peer.conn.close()
        self.assertEqual(peer.frames(), [Close(1000, "")])

    def test_closeTwiceSendsOneFrame(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.frames()
        peer.conn.close(1000)
        peer.conn.close(1001)
        self.assertEqual(peer.frames(), [Close(1000, "")])

    def test_sendAfterCloseIsDropped(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.frames()
        peer.conn.close()
        peer.conn.send("too late")
        self.assertEqual(peer.frames(), [Close(1000, "")])

    def test_applicationCloseWithAReservedCode(self) -> None:
        """C{1005} may not be sent: the application is told, nothing is sent."""
        app = RecordingApplication(
            onMessage=lambda conn, message: CloseConnection(conn, 1005)
        )
        harness = Harness(app)
        peer = harness.open()
        peer.frames()
        peer.sendText("x")
        [failure] = app.failures()
        self.assertTrue(failure.check(ValueError))
        self.assertEqual(peer.frames(), [])
        self.flushLoggedErrors(ValueError)

    def test_closeTimeout(self) -> None:
        """A peer that never answers our close is dropped after closeTimeout."""
        harness = Harness(closeTimeout=3)
        peer = harness.open()
        peer.conn.close(4002, "bye")
        harness.clock.advance(2.9)
        self.assertFalse(peer.closed)
        harness.clock.advance(0.2)
        self.assertTrue(peer.aborted)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(peer.conn.closeCode, 4002)
        self.assertTrue(loggedLines(self.log, "closing handshake timed out"))
        self.assertEqual(harness.clock.getDelayedCalls(), [])

    def test_peerDropsWithoutClosing(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.transport.reportLost()
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(peer.conn.closeCode, CloseCode.ABNORMAL)
        self.assertEqual(harness.layer.connections, frozenset())


class ProtocolErrorTests(SynchronousTestCase):
    """
    Each way to break the protocol, alone on a fresh connection: the close
    code sent, the TCP connection closed, C{onClose} once, C{closeCode},
    the log line.
    """

    def setUp(self) -> None:
        self.log = LogCapture(self)

    def assertFails(self, data: bytes, code: int, wire: int = 13, **options) -> Peer:
        harness = Harness(**options)
        peer = harness.open(hybiRequest(wire))
        peer.frames()
        peer.receive(data)
        frames = peer.frames()
        self.assertEqual(len(frames), 1, frames)
        self.assertIsInstance(frames[0], Close)
        self.assertEqual(frames[0].code, code, frames)
        self.assertTrue(peer.closed)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(peer.conn.closeCode, code)
        self.assertTrue(
            loggedLines(self.log, "protocol error", str(code)),
            [e.get("log_format") for e in self.log.events],
        )
        self.assertEqual(harness.clock.getDelayedCalls(), [])
        self.assertEqual(harness.layer.connections, frozenset())
        return peer

    def test_unmaskedFrame(self) -> None:
        for wire in HYBI_WIRE_VERSIONS:
            self.assertFails(frame(OP.TEXT, b"hi", masked=False), 1002, wire)

    def test_reservedBits(self) -> None:
        for rsv in (1, 2, 4, 7):
            self.assertFails(frame(OP.TEXT, b"hi", rsv=rsv), 1002)

    def test_reservedOpcodes(self) -> None:
        for opcode in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
            self.assertFails(frame(opcode, b"x"), 1002)

    def test_fragmentedControlFrame(self) -> None:
        self.assertFails(frame(OP.PING, b"x", fin=False), 1002)

    def test_controlFrameTooLong(self) -> None:
        self.assertFails(frame(OP.PING, b"x" * 126), 1002)

    def test_continuationWithoutAMessage(self) -> None:
        self.assertFails(continuationFrame(b"lost"), 1002)

    def test_newMessageInsideAFragmentedOne(self) -> None:
        self.assertFails(textFrame("a", fin=False) + textFrame("b"), 1002)

    def test_closeWithOneBytePayload(self) -> None:
        self.assertFails(frame(OP.CLOSE, b"\x03"), 1002)

    def test_closeWithInvalidCode(self) -> None:
        for code in (0, 999, 1004, 1005, 1006, 1015, 2000, 5000):
            self.assertFails(closeFrame(code), 1002)

    def test_invalidUtf8(self) -> None:
        self.assertFails(frame(OP.TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xed\xa0\x80"), 1007)

    def test_invalidUtf8InAFragment(self) -> None:
        self.assertFails(
            textFrame("ok", fin=False) + continuationFrame(b"\xff", fin=False), 1007
        )

    def test_textEndingInsideACharacter(self) -> None:
        self.assertFails(frame(OP.TEXT, "€".encode()[:2]), 1007)

    def test_invalidUtf8InCloseReason(self) -> None:
        self.assertFails(frame(OP.CLOSE, b"\x03\xe8\xff"), 1007)

    def test_frameTooLarge(self) -> None:
        self.assertFails(binaryFrame(b"x" * 1025), 1009, maxFrameSize=1024)

    def test_frameTooLargeFailsOnItsHeader(self) -> None:
        """The limit is checked before the payload is read."""
        header = hybi.encodeFrame(OP.BINARY, b"x" * 70000, mask=b"abcd")[:14]
        self.assertFails(header, 1009, maxFrameSize=65536)

    def test_sizeLimitsAreExact(self) -> None:
        """A frame or message of exactly the limit passes."""
        harness = Harness(maxFrameSize=500, maxMessageSize=1000)
        peer = harness.open()
        peer.receive(binaryFrame(b"a" * 500))
        peer.receive(binaryFrame(b"b" * 500, fin=False) + continuationFrame(b"c" * 500))
        self.assertEqual(messages(harness.app), [b"a" * 500, b"b" * 500 + b"c" * 500])
        self.assertFalse(peer.closed)

    def test_messageLimitAloneRaisesTheFrameLimit(self) -> None:
        """
        C{maxMessageSize} alone is enough: the frame limit follows it, so a
        2 MiB single-frame message passes a 4 MiB message limit (it was once
        held to a frame limit of its own, 1 MiB), and one over it fails.
        """
        MiB = 2**20
        harness = Harness(maxMessageSize=4 * MiB)
        self.assertIsNone(harness.layer.settings.maxFrameSize)
        peer = harness.open()
        peer.receive(binaryFrame(b"m" * (2 * MiB)))
        self.assertEqual(messages(harness.app), [b"m" * (2 * MiB)])
        self.assertFalse(peer.closed)
        peer.frames()
        peer.receive(binaryFrame(b"m" * (4 * MiB + 1))[:14])
        self.assertEqual(peer.frames(), [Close(1009, "frame of 4194305 bytes is too big")])

    def test_messageTooLarge(self) -> None:
        stream = binaryFrame(b"x" * 600, fin=False) + continuationFrame(b"y" * 600)
        self.assertFails(stream, 1009, maxMessageSize=1000)

    def test_dataAfterTheErrorIgnored(self) -> None:
        harness = Harness()
        peer = harness.connect(RecordingTransport(disconnectAtOnce=False))
        peer.handshake()
        peer.frames()
        peer.receive(frame(OP.TEXT, b"x", masked=False))
        peer.receive(textFrame("ignored"))
        self.assertEqual(len(peer.frames()), 1)
        peer.transport.reportLost()
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(peer.conn.closeCode, 1002)

    def test_messagesBeforeTheErrorInTheSameRead(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.frames()
        peer.receive(textFrame("ok") + frame(OP.TEXT, b"\xff"))
        self.assertEqual(peer.conn.closeCode, 1007)
        self.assertEqual(harness.app.callbacks()[0], "onOpen")
        self.assertEqual(harness.app.callbacks()[-1], "onClose")
        self.assertEqual(harness.app.callbacks().count("onClose"), 1)

    def test_otherConnectionsCarryOn(self) -> None:
        app = RecordingApplication(
            onMessage=lambda conn, message: Composite(
                SendMessage(c, message) for c in harness.layer.connections
            )
        )
        harness = Harness(app)
        alice, bob, carol = harness.open(), harness.open(), harness.open(hybiRequest(8))
        for peer in (alice, bob, carol):
            peer.frames()
        bob.receive(frame(OP.TEXT, b"bad", masked=False))
        self.assertEqual(bob.frames()[0].code, 1002)
        alice.sendText("still here")
        self.assertEqual(alice.frames(), ["still here"])
        self.assertEqual(carol.frames(), ["still here"])
        self.assertEqual(bob.frames(), [])
        self.assertEqual(len(harness.layer.connections), 2)
        self.assertEqual(
            peerVersions(harness), {WebSocketVersion.RFC6455, WebSocketVersion.HYBI_10}
        )


def peerVersions(harness: Harness) -> set[WebSocketVersion]:
    return {conn.version for conn in harness.layer.connections}


class ServerShutdownTests(SynchronousTestCase):
    """C{Server.closeAll}, as C{twistd} runs it on SIGTERM."""

    def test_everyClientGets1001(self) -> None:
        harness = Harness()
        rfc, hybi10 = harness.open(), harness.open(hybiRequest(8))
        hixie = harness.openHixie76()
        halfway = harness.connect()
        halfway.receive(hybiRequest()[:20])
        for peer in (rfc, hybi10):
            peer.frames()
        hixie.output()
        done = harness.server.closeAll(timeout=5, clock=harness.clock)
        self.assertEqual(rfc.frames(), [Close(1001, "server shutting down")])
        self.assertEqual(hybi10.frames(), [Close(1001, "server shutting down")])
        self.assertEqual(hixie.output(), b"\xff\x00")
        self.assertTrue(halfway.closed)
        fired = []
        done.addCallback(fired.append)
        rfc.sendClose(1001)
        hybi10.sendClose(1001)
        self.assertEqual(fired, [])
        hixie.receive(b"\xff\x00")
        self.assertEqual(fired, [None])
        self.assertEqual(harness.app.callbacks().count("onClose"), 3)
        self.assertEqual(harness.clock.getDelayedCalls(), [])

    def test_clientsThatDoNotAnswerAreDropped(self) -> None:
        harness = Harness(closeTimeout=10)
        peer = harness.open()
        done = harness.server.closeAll(timeout=2, clock=harness.clock)
        fired = []
        done.addCallback(fired.append)
        harness.clock.advance(2.1)
        self.assertTrue(peer.aborted)
        self.assertEqual(fired, [None])
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])


class LayerFailureTests(SynchronousTestCase):
    """A bug in the layer itself never escapes the protocol."""

    def test_decoderBlowsUp(self) -> None:
        class Exploding:
            def feed(self, data: bytes):
                raise RuntimeError("decoder bug")

        log = LogCapture(self)
        harness = Harness()
        victim, bystander = harness.open(), harness.open()
        victim.frames()
        bystander.frames()
        victim.conn.protocol._decoder = Exploding()
        victim.sendText("x")
        self.assertEqual(victim.frames(), [Close(1011, "internal error")])
        self.assertTrue(victim.closed)
        self.assertEqual(victim.conn.closeCode, 1011)
        self.assertEqual(harness.app.callbacks().count("onClose"), 1)
        self.assertTrue(log.failuresOf(RuntimeError))
        self.flushLoggedErrors(RuntimeError)
        bystander.sendText("unaffected")
        self.assertEqual(bystander.frames(), ["unaffected"])

    def test_applicationAborts(self) -> None:
        harness = Harness()
        peer = harness.open()
        peer.conn.abort()
        self.assertTrue(peer.aborted)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(peer.conn.closeCode, CloseCode.ABNORMAL)
        self.assertEqual(harness.clock.getDelayedCalls(), [])


class ErrorCallbackTests(SynchronousTestCase):
    def test_onErrorRaisingClosesTheConnection(self) -> None:
        log = LogCapture(self)
        app = RecordingApplication(
            onMessage=raising(RuntimeError("first")),
            onError=raising(RuntimeError("second")),
        )
        harness = Harness(app)
        peer = harness.open()
        peer.frames()
        peer.sendText("x")
        self.assertEqual(peer.frames(), [Close(1000, "")])
        self.assertEqual(len(log.failuresOf(RuntimeError)), 2)
        self.flushLoggedErrors(RuntimeError)
