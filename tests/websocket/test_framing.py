"""
Tests for L{ratchet_tx.websocket.framing}: the frame formats of both roles
and the rule that lets a server frame a message once for many receivers.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.deflate import PerMessageDeflate
from ratchet_tx.websocket.codecs.events import Close, Ping
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion
from ratchet_tx.websocket.codecs.hixie import CLOSE_FRAME, HixieDecoder
from ratchet_tx.websocket.framing import (
    BinaryNotSupported,
    ClientHybiFraming,
    Framings,
    HixieFraming,
    HybiFraming,
    Role,
    plainMessage,
)

LIMIT = 1 << 20


def noContextTakeover() -> PerMessageDeflate:
    return PerMessageDeflate(sendNoContextTakeover=True, receiveNoContextTakeover=True)


def readByClient(data: bytes, deflate: PerMessageDeflate | None = None) -> list[object]:
    return hybi.FrameDecoder(maxMessageSize=LIMIT, expectMasked=False, deflate=deflate).feed(data)


def readByServer(data: bytes) -> list[object]:
    return hybi.FrameDecoder(maxMessageSize=LIMIT, expectMasked=True).feed(data)


class PlainMessageTests(SynchronousTestCase):
    def test_exactTypesAreThemselves(self) -> None:
        text, data = "abc", b"abc"
        self.assertIs(plainMessage(text), text)
        self.assertIs(plainMessage(data), data)

    def test_othersAreCopiedToExactTypes(self) -> None:
        class Text(str):
            pass

        for message, wanted in (
            (Text("t"), "t"),
            (bytearray(b"b"), b"b"),
            (memoryview(b"m"), b"m"),
        ):
            plain = plainMessage(message)
            self.assertEqual(plain, wanted)
            self.assertIs(type(plain), type(wanted))

    def test_somethingElse(self) -> None:
        self.assertRaises(TypeError, plainMessage, 42)


class ServerCacheTests(SynchronousTestCase):
    """A server-side framing frames a remembered message once."""

    def test_sameObjectSameFrame(self) -> None:
        framing = HybiFraming()
        message = "once " * 40
        self.assertIs(framing.encode(message), framing.encode(message))

    def test_equalButDistinctObjectsAreFramedAgain(self) -> None:
        framing = HybiFraming()
        first = framing.encode("".join(["ab", "c"]))
        second = framing.encode("".join(["a", "bc"]))
        self.assertEqual(first, second)
        self.assertIsNot(first, second)

    def test_onlyExactTypesAreRemembered(self) -> None:
        class Text(str):
            pass

        framing = HybiFraming()
        for message in (Text("sub"), bytearray(b"array"), memoryview(b"view")):
            framing.encode(message)
            self.assertIsNone(framing._message, type(message))

    def test_compressedFramesBelongToTheirMessage(self) -> None:
        """
        The frame compressed for one message is never served for another,
        whatever the second one's type (the reported bug).
        """
        framing = HybiFraming()
        deflate = noContextTakeover()

        class Text(str):
            pass

        sent = [
            "A" * 300,
            Text("B" * 300),
            "A" * 300,
            bytearray(b"C" * 300),
            memoryview(b"D" * 300),
        ]
        frames = b"".join(framing.encode(message, deflate) for message in sent)
        self.assertEqual(
            readByClient(frames, noContextTakeover()),
            ["A" * 300, "B" * 300, "A" * 300, b"C" * 300, b"D" * 300],
        )

    def test_compressedOncePerParameters(self) -> None:
        framing = HybiFraming()
        message = "compress me " * 20
        one, two = noContextTakeover(), noContextTakeover()
        self.assertIs(framing.encode(message, one), framing.encode(message, two))
        plain = framing.encode(message)
        self.assertEqual(readByClient(plain), [message])
        self.assertIs(framing.encode(message, one), framing.encode(message, two))

    def test_contextTakeoverIsFramedPerConnection(self) -> None:
        framing = HybiFraming()
        message = "history " * 20
        keeps = PerMessageDeflate()
        first, second = framing.encode(message, keeps), framing.encode(message, keeps)
        self.assertNotEqual(first, second, "the second refers back to the first")

    def test_hixieRemembersText(self) -> None:
        framing = HixieFraming(Role.SERVER)
        message = "old school"
        self.assertIs(framing.encode(message), framing.encode(message))
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        self.assertEqual(decoder.feed(framing.encode(message)), [message])

    def test_hixieRefusesBytes(self) -> None:
        framing = HixieFraming(Role.SERVER)
        for message in (b"b", bytearray(b"b"), memoryview(b"b")):
            self.assertRaises(BinaryNotSupported, framing.encode, message)
        self.assertRaises(TypeError, framing.encode, 42)


class ClientFramingTests(SynchronousTestCase):
    """Client frames are masked, each with a fresh key, and never cached."""

    def test_masked(self) -> None:
        framing = ClientHybiFraming()
        message = "from the client"
        first, second = framing.encode(message), framing.encode(message)
        self.assertEqual(first[1] & hybi.MASK_BIT, hybi.MASK_BIT)
        self.assertNotEqual(first[2:6], second[2:6], "a fresh key for each frame")
        self.assertEqual(readByServer(first + second), [message, message])

    def test_everyKindOfMessage(self) -> None:
        """
        Text (ASCII or not, a C{str} subclass) and binary (any bytes-like)
        reach a server as sent, each frame with its own key.
        """

        class Text(str):
            pass

        framing = ClientHybiFraming()
        messages: list[Any] = ["ascii", "héllo ☃", Text("sub"), b"\x00\xff", bytearray(b"ba")]
        messages.append(memoryview(b"mv"))
        frames = [framing.encode(m) for m in messages]
        self.assertEqual(len({frame[2:6] for frame in frames}), len(frames))
        self.assertEqual(
            readByServer(b"".join(frames)),
            ["ascii", "héllo ☃", "sub", b"\x00\xff", b"ba", b"mv"],
        )

    def test_maskedControlFrames(self) -> None:
        framing = ClientHybiFraming()
        data = framing.encodePing(b"p") + framing.encodeClose(1000, "bye")
        self.assertEqual(readByServer(data), [Ping(b"p"), Close(1000, "bye")])

    def test_maskedCompressed(self) -> None:
        framing = ClientHybiFraming()
        sending = noContextTakeover()
        frame = framing.encode("z" * 200, sending)
        decoder = hybi.FrameDecoder(maxMessageSize=LIMIT, deflate=noContextTakeover())
        self.assertEqual(decoder.feed(frame), ["z" * 200])

    def test_serverDecoderExpectsMaskedFrames(self) -> None:
        server = HybiFraming().decoder(maxMessageSize=LIMIT)
        client = ClientHybiFraming().decoder(maxMessageSize=LIMIT)
        self.assertEqual(client.feed(HybiFraming().encode("s")), ["s"])
        self.assertEqual(server.feed(ClientHybiFraming().encode("c")), ["c"])

    def test_hixieClientFramesAreTheServers(self) -> None:
        client, server = HixieFraming(Role.CLIENT), HixieFraming(Role.SERVER)
        self.assertEqual(client.encode("x"), server.encode("x"))
        self.assertEqual(HixieFraming(Role.CLIENT).encodeClose(None, ""), CLOSE_FRAME)


class FramingsTests(SynchronousTestCase):
    def test_forVersion(self) -> None:
        framings = Framings(Role.SERVER)
        for version in WebSocketVersion:
            expected = framings.hixie if version.isHixie else framings.hybi
            self.assertIs(framings.forVersion(version), expected)
