"""
Tests for L{ratchet_tx.websocket.codecs.hybi}: RFC 6455 / HyBi framing.
"""

from __future__ import annotations

import os
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.deflate import PerMessageDeflate
from ratchet_tx.websocket.codecs.errors import ProtocolError
from ratchet_tx.websocket.codecs.events import Close, Event, Ping, Pong
from ratchet_tx.websocket.codecs.hybi import (
    _MAX_BUFFERED,
    MAX_PAYLOAD_NORMAL,
    RSV1,
    RSV2,
    RSV3,
    SPEEDUPS,
    FrameDecoder,
    MaskKeys,
    Opcode,
    _forgetKeysAfterFork,
    applyMask,
    encodeBinary,
    encodeClose,
    encodeFrame,
    encodeMaskedClose,
    encodeMaskedMessage,
    encodeMaskedPing,
    encodeMaskedPong,
    encodeMessage,
    encodePing,
    encodePong,
    encodeText,
    maskedFrame,
    maskedText,
    pythonApplyMask,
    pythonMaskedFrame,
    pythonMaskedText,
)

#: The message limit given to decoders where the test needs no other.
LIMIT = 16 * 2**20

PROTOCOL_ERROR = 1002
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009

KEY = b"\x37\xfa\x21\x3d"

#: Payload lengths on each side of the 7-bit, 16-bit and 64-bit encodings.
BOUNDARY_LENGTHS = [0, 1, 125, 126, 127, 65535, 65536]

#: Fixtures longer than this are fed in a sample of chunk sizes, not all.
_ALL_CHUNK_SIZES_UP_TO = 300


def masked(opcode: int, payload: bytes = b"", **kwargs: Any) -> bytes:
    """
    A frame as a client sends it: masked with L{KEY}.
    """
    return encodeFrame(opcode, payload, mask=KEY, **kwargs)


def chunkSizes(size: int) -> list[int]:
    """
    The chunk sizes to feed C{size} bytes in: all of them when few.
    """
    if size <= _ALL_CHUNK_SIZES_UP_TO:
        return list(range(1, size + 1)) or [1]
    return sorted({1, 2, 3, 7, 125, 126, 127, 4096, size - 1, size})


def feedChunks(decoder: FrameDecoder, data: bytes, size: int) -> list[Event]:
    """
    Feed C{data} to C{decoder} C{size} bytes at a time.

    @return: all the events, in order.
    """
    events: list[Event] = []
    for start in range(0, len(data), size):
        events += decoder.feed(data[start : start + size])
    return events


def feedCut(data: st.DataObject, decoder: FrameDecoder, wire: bytes) -> list[Event]:
    """
    Feed C{wire} to C{decoder} in reads cut where hypothesis draws.

    @return: all the events, in order.
    """
    reads = sorted(data.draw(st.lists(st.integers(0, len(wire)))))
    received: list[Event] = []
    for start, stop in pairwise([0, *reads, len(wire)]):
        received += decoder.feed(wire[start:stop])
    return received


class DecoderTestCase(SynchronousTestCase):
    """
    Assertions about what a L{FrameDecoder} makes of some bytes.
    """

    def assertDecodes(self, data: bytes, expected: list[Event], **decoderArgs: Any) -> None:
        """
        A new decoder turns C{data} into C{expected}, however C{data} is cut
        into reads.
        """
        for size in chunkSizes(len(data)):
            decoderArgs.setdefault("maxMessageSize", LIMIT)
            events = feedChunks(FrameDecoder(**decoderArgs), data, size)
            self.assertEqual(events, expected, f"fed {size} bytes at a time")

    def assertCloses(self, decoder: FrameDecoder, data: bytes, code: int) -> ProtocolError:
        """
        Feeding C{data} to C{decoder} fails the connection with C{code}, and
        the decoder stays failed.
        """
        with self.assertRaises(ProtocolError) as caught:
            decoder.feed(data)
        error = caught.exception
        self.assertEqual(error.code, code, error.reason)
        with self.assertRaises(ProtocolError) as again:
            decoder.feed(encodeFrame(Opcode.PING, b""))
        self.assertEqual((again.exception.code, again.exception.reason), (code, error.reason))
        return error

    def assertAlwaysCloses(
        self, data: bytes, code: int, *, withDeflate: bool = False, **decoderArgs: Any
    ) -> None:
        """
        A new decoder fails with C{code} on C{data}, whether it comes in one
        read or byte by byte.

        @param withDeflate: give each decoder a new L{PerMessageDeflate}.
        """

        decoderArgs.setdefault("maxMessageSize", LIMIT)

        def newDecoder() -> FrameDecoder:
            if withDeflate:
                return FrameDecoder(deflate=PerMessageDeflate(), **decoderArgs)
            return FrameDecoder(**decoderArgs)

        self.assertCloses(newDecoder(), data, code)
        decoder = newDecoder()
        for index in range(len(data)):
            try:
                decoder.feed(data[index : index + 1])
            except ProtocolError as error:
                self.assertEqual(error.code, code, f"{error.reason} (byte {index})")
                return
        self.fail(f"{data!r} fed byte by byte never failed")


class RFCExampleTests(DecoderTestCase):
    """
    The examples of RFC 6455 section 5.7, byte for byte.
    """

    def test_unmaskedText(self) -> None:
        frame = bytes([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        self.assertEqual(encodeText("Hello"), frame)
        self.assertDecodes(frame, ["Hello"], expectMasked=False)

    def test_maskedText(self) -> None:
        frame = bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        self.assertEqual(masked(Opcode.TEXT, b"Hello"), frame)
        self.assertDecodes(frame, ["Hello"])

    def test_fragmentedText(self) -> None:
        first = bytes([0x01, 0x03, 0x48, 0x65, 0x6C])
        last = bytes([0x80, 0x02, 0x6C, 0x6F])
        self.assertEqual(encodeFrame(Opcode.TEXT, b"Hel", fin=False), first)
        self.assertEqual(encodeFrame(Opcode.CONTINUATION, b"lo"), last)
        self.assertDecodes(first + last, ["Hello"], expectMasked=False)

    def test_unmaskedPing(self) -> None:
        frame = bytes([0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        self.assertEqual(encodePing(b"Hello"), frame)
        self.assertDecodes(frame, [Ping(b"Hello")], expectMasked=False)

    def test_maskedPong(self) -> None:
        frame = bytes([0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        self.assertEqual(masked(Opcode.PONG, b"Hello"), frame)
        self.assertDecodes(frame, [Pong(b"Hello")])

    def test_256BytesBinary(self) -> None:
        payload = bytes(range(256))
        frame = encodeBinary(payload)
        self.assertEqual(frame[:4], bytes([0x82, 0x7E, 0x01, 0x00]))
        self.assertEqual(frame[4:], payload)
        self.assertDecodes(frame, [payload], expectMasked=False)

    def test_64KiBBinary(self) -> None:
        payload = bytes(range(256)) * 256
        frame = encodeBinary(payload)
        self.assertEqual(frame[:10], bytes([0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]))
        self.assertEqual(frame[10:], payload)
        self.assertDecodes(frame, [payload], expectMasked=False)


class BoundaryTests(DecoderTestCase):
    """
    Payload lengths on each side of every length encoding, masked and not.
    """

    def test_headerSizes(self) -> None:
        sizes = {0: 2, 1: 2, 125: 2, 126: 4, 127: 4, 65535: 4, 65536: 10}
        for length in BOUNDARY_LENGTHS:
            payload = b"x" * length
            self.assertEqual(len(encodeBinary(payload)) - length, sizes[length], length)
            self.assertEqual(len(masked(Opcode.BINARY, payload)) - length, sizes[length] + 4)

    def test_binaryMasked(self) -> None:
        for length in BOUNDARY_LENGTHS:
            payload = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
            self.assertDecodes(masked(Opcode.BINARY, payload), [payload])

    def test_binaryUnmasked(self) -> None:
        for length in BOUNDARY_LENGTHS:
            payload = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
            self.assertDecodes(encodeBinary(payload), [payload], expectMasked=False)

    def test_textMasked(self) -> None:
        for length in BOUNDARY_LENGTHS:
            text = "é" * (length // 2) + "a" * (length % 2)
            self.assertDecodes(masked(Opcode.TEXT, text.encode()), [text])

    def test_textUnmasked(self) -> None:
        for length in BOUNDARY_LENGTHS:
            text = "é" * (length // 2) + "a" * (length % 2)
            self.assertDecodes(encodeText(text), [text], expectMasked=False)

    def test_controlPayloads(self) -> None:
        for length in (0, 1, MAX_PAYLOAD_NORMAL):
            payload = b"p" * length
            self.assertDecodes(masked(Opcode.PING, payload), [Ping(payload)])
            self.assertDecodes(encodePong(payload), [Pong(payload)], expectMasked=False)

    def test_nonMinimalLengths(self) -> None:
        """
        A short payload may have its length in the 16-bit or 64-bit field.
        """
        for header in [b"\x82\x7e\x00\x05", b"\x82\x7f" + (5).to_bytes(8, "big")]:
            self.assertDecodes(header + b"hello", [b"hello"], expectMasked=False)


class DecodingTests(DecoderTestCase):
    """
    Messages and control frames, whole and fragmented.
    """

    def test_manyFramesInOneRead(self) -> None:
        data = masked(Opcode.TEXT, b"one") + masked(Opcode.BINARY, b"two")
        self.assertEqual(FrameDecoder(maxMessageSize=LIMIT).feed(data), ["one", b"two"])
        self.assertDecodes(data, ["one", b"two"])

    def test_emptyMessages(self) -> None:
        data = masked(Opcode.TEXT) + masked(Opcode.BINARY)
        self.assertDecodes(data, ["", b""])

    def test_fragmentedWithControlFrames(self) -> None:
        """
        Control frames between the fragments of a message come out in
        order, before the message they interrupt.
        """
        data = (
            masked(Opcode.TEXT, "κό".encode()[:3], fin=False)
            + masked(Opcode.PING, b"1")
            + masked(Opcode.CONTINUATION, "κό".encode()[3:], fin=False)
            + masked(Opcode.PONG, b"2")
            + masked(Opcode.CONTINUATION, b"")
            + masked(Opcode.BINARY, b"x", fin=False)
            + masked(Opcode.CONTINUATION, b"y")
        )
        self.assertDecodes(data, [Ping(b"1"), Pong(b"2"), "κό", b"xy"])

    def test_maskOffsetAcrossReads(self) -> None:
        """
        A payload split at any byte is unmasked from the right key offset.
        """
        payload = bytes(range(256)) * 8
        frame = masked(Opcode.BINARY, payload)
        for cut in range(8, 20):
            decoder = FrameDecoder(maxMessageSize=LIMIT)
            self.assertEqual(decoder.feed(frame[:cut]), [])
            self.assertEqual(decoder.feed(frame[cut:]), [payload])

    def test_close(self) -> None:
        self.assertDecodes(masked(Opcode.CLOSE), [Close(None, "")])
        self.assertDecodes(
            masked(Opcode.CLOSE, b"\x03\xe8bye \xc3\xa9"),
            [Close(1000, "bye é")],
        )

    def test_validCloseCodes(self) -> None:
        for code in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999]:
            payload = code.to_bytes(2, "big")
            self.assertDecodes(masked(Opcode.CLOSE, payload), [Close(code, "")])

    def test_nothingAfterClose(self) -> None:
        """
        After a close frame, the rest of the read and later reads are
        ignored, even if invalid.
        """
        decoder = FrameDecoder(maxMessageSize=LIMIT)
        self.assertEqual(
            decoder.feed(masked(Opcode.TEXT, b"a") + masked(Opcode.CLOSE) + b"\xff\xff"),
            ["a", Close(None, "")],
        )
        self.assertEqual(decoder.feed(masked(Opcode.TEXT, b"a")), [])
        self.assertEqual(decoder.feed(b"\x00\x00"), [])

    def test_compressedMessage(self) -> None:
        """
        With permessage-deflate, RSV1 on a message's first frame means its
        payload is compressed (RFC 7692 section 7.2.3.1's "Hello").
        """
        compressed = bytes([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        for opcode, expected in [(Opcode.TEXT, "Hello"), (Opcode.BINARY, b"Hello")]:
            frame = masked(opcode, compressed, rsv=RSV1)
            for size in chunkSizes(len(frame)):
                decoder = FrameDecoder(maxMessageSize=LIMIT, deflate=PerMessageDeflate())
                self.assertEqual(feedChunks(decoder, frame, size), [expected])

    def test_uncompressedWithDeflate(self) -> None:
        """
        With permessage-deflate, messages without RSV1 are as without it.
        """
        data = masked(Opcode.TEXT, b"one") + masked(Opcode.BINARY, b"two", fin=False)
        data += masked(Opcode.CONTINUATION, b"!")
        for size in chunkSizes(len(data)):
            decoder = FrameDecoder(maxMessageSize=LIMIT, deflate=PerMessageDeflate())
            self.assertEqual(feedChunks(decoder, data, size), ["one", b"two!"])

    def test_limitsReached(self) -> None:
        """
        A frame and a message of exactly the maximum size are accepted.
        """
        self.assertDecodes(masked(Opcode.BINARY, b"x" * 10), [b"x" * 10], maxFrameSize=10)
        fragments = masked(Opcode.TEXT, b"x" * 6, fin=False) + masked(Opcode.CONTINUATION, b"x" * 4)
        self.assertDecodes(fragments, ["x" * 10], maxMessageSize=10)

    def test_bufferBounded(self) -> None:
        """
        Between reads, the decoder keeps at most a header and a control
        frame unparsed, whatever the size of the frames.
        """
        data = (
            masked(Opcode.BINARY, b"b" * 70000)
            + masked(Opcode.PING, b"p" * 125)
            + masked(Opcode.TEXT, b"t" * 300)
        )
        decoder = FrameDecoder(maxMessageSize=LIMIT)
        for index in range(len(data)):
            decoder.feed(data[index : index + 1])
            self.assertLessEqual(len(decoder._buffer), _MAX_BUFFERED)


class ProtocolErrorTests(DecoderTestCase):
    """
    Each way a peer can break the framing fails with the right close code.
    """

    def test_unmaskedFromClient(self) -> None:
        self.assertAlwaysCloses(encodeText("hi"), PROTOCOL_ERROR)

    def test_maskedFromServer(self) -> None:
        self.assertAlwaysCloses(masked(Opcode.TEXT, b"hi"), PROTOCOL_ERROR, expectMasked=False)

    def test_reservedBits(self) -> None:
        for rsv in (RSV1, RSV2, RSV3, RSV1 | RSV2 | RSV3):
            self.assertAlwaysCloses(masked(Opcode.TEXT, b"hi", rsv=rsv), PROTOCOL_ERROR)
            self.assertAlwaysCloses(masked(Opcode.PING, rsv=rsv), PROTOCOL_ERROR)

    def test_reservedBitsWithDeflate(self) -> None:
        """
        permessage-deflate defines RSV1 only, and only on the first frame of
        a data message.
        """
        for rsv in (RSV2, RSV3, RSV1 | RSV2):
            frame = masked(Opcode.TEXT, b"hi", rsv=rsv)
            self.assertAlwaysCloses(frame, PROTOCOL_ERROR, withDeflate=True)
        for opcode in (Opcode.PING, Opcode.PONG, Opcode.CLOSE):
            frame = masked(opcode, rsv=RSV1)
            self.assertAlwaysCloses(frame, PROTOCOL_ERROR, withDeflate=True)
        first = masked(Opcode.BINARY, b"\xf2\x48", fin=False, rsv=RSV1)
        continuation = masked(Opcode.CONTINUATION, b"\xcd\xc9\xc9\x07\x00", rsv=RSV1)
        self.assertAlwaysCloses(first + continuation, PROTOCOL_ERROR, withDeflate=True)
        plain = masked(Opcode.BINARY, b"x", fin=False)
        continuation = masked(Opcode.CONTINUATION, b"y", rsv=RSV1)
        self.assertAlwaysCloses(plain + continuation, PROTOCOL_ERROR, withDeflate=True)

    def test_reservedOpcodes(self) -> None:
        for opcode in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]:
            self.assertAlwaysCloses(masked(opcode, b"x"), PROTOCOL_ERROR)

    def test_fragmentedControlFrame(self) -> None:
        for opcode in (Opcode.PING, Opcode.PONG, Opcode.CLOSE):
            self.assertAlwaysCloses(masked(opcode, fin=False), PROTOCOL_ERROR)

    def test_controlFrameTooLong(self) -> None:
        """
        A control frame over 125 bytes fails from its first two bytes.
        """
        for opcode in (Opcode.PING, Opcode.PONG, Opcode.CLOSE):
            frame = masked(opcode, b"\x03\xe8" + b"x" * 124)
            self.assertCloses(FrameDecoder(maxMessageSize=LIMIT), frame[:2], PROTOCOL_ERROR)
            self.assertAlwaysCloses(frame, PROTOCOL_ERROR)

    def test_continuationWithoutMessage(self) -> None:
        self.assertAlwaysCloses(masked(Opcode.CONTINUATION, b"x"), PROTOCOL_ERROR)
        whole = masked(Opcode.TEXT, b"x")
        self.assertAlwaysCloses(whole + masked(Opcode.CONTINUATION, b"x"), PROTOCOL_ERROR)

    def test_newMessageDuringFragmented(self) -> None:
        first = masked(Opcode.TEXT, b"x", fin=False)
        for opcode in (Opcode.TEXT, Opcode.BINARY):
            self.assertAlwaysCloses(first + masked(opcode, b"y"), PROTOCOL_ERROR)
            self.assertAlwaysCloses(first + masked(opcode, b"y", fin=False), PROTOCOL_ERROR)

    def test_closeWithOneByte(self) -> None:
        self.assertAlwaysCloses(masked(Opcode.CLOSE, b"\x03"), PROTOCOL_ERROR)

    def test_invalidCloseCodes(self) -> None:
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]:
            frame = masked(Opcode.CLOSE, code.to_bytes(2, "big"))
            self.assertAlwaysCloses(frame, PROTOCOL_ERROR)

    def test_64BitLengthTopBitSet(self) -> None:
        header = b"\x82\xff" + (2**63).to_bytes(8, "big")
        self.assertCloses(FrameDecoder(maxMessageSize=LIMIT), header, PROTOCOL_ERROR)

    def test_deadAfterError(self) -> None:
        """
        After an error every read fails the same way, even a valid one.
        """
        decoder = FrameDecoder(maxMessageSize=LIMIT)
        error = self.assertCloses(decoder, masked(Opcode.CONTINUATION), PROTOCOL_ERROR)
        for data in (b"", masked(Opcode.TEXT, b"fine")):
            with self.assertRaises(ProtocolError) as caught:
                decoder.feed(data)
            self.assertEqual(caught.exception.code, PROTOCOL_ERROR)
            self.assertEqual(caught.exception.reason, error.reason)

    def test_eventsBeforeError(self) -> None:
        """
        The error carries what the same read completed before the bad frame
        (Autobahn case 4.1.3: a message, a reserved opcode, then a ping).
        """
        data = masked(Opcode.TEXT, b"Hello, world!") + masked(5) + masked(Opcode.PING)
        error = self.assertCloses(FrameDecoder(maxMessageSize=LIMIT), data, PROTOCOL_ERROR)
        self.assertEqual(error.events, ["Hello, world!"])


class InvalidUtf8Tests(DecoderTestCase):
    """
    Invalid UTF-8 fails with 1007, as soon as it arrives.
    """

    def test_textMessage(self) -> None:
        for payload in [b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"ok\xce"]:
            self.assertAlwaysCloses(masked(Opcode.TEXT, payload), INVALID_PAYLOAD)

    def test_fragmentedMessage(self) -> None:
        data = masked(Opcode.TEXT, b"ok\xce", fin=False) + masked(Opcode.CONTINUATION, b"ok")
        self.assertAlwaysCloses(data, INVALID_PAYLOAD)

    def test_closeReason(self) -> None:
        self.assertAlwaysCloses(masked(Opcode.CLOSE, b"\x03\xe8\xff"), INVALID_PAYLOAD)

    def test_failFastInPartialFrame(self) -> None:
        """
        An invalid sequence in the first half of a frame's payload fails the
        connection before the second half arrives.
        """
        payload = "κόσμε".encode() + b"\xf4\x90\x80\x80" + b"edited" * 20
        frame = masked(Opcode.TEXT, payload)
        decoder = FrameDecoder(maxMessageSize=LIMIT)
        header = len(frame) - len(payload)
        self.assertEqual(decoder.feed(frame[: header + 5]), [])
        self.assertCloses(decoder, frame[header + 5 : header + len(payload) // 2], INVALID_PAYLOAD)

    def test_failFastOnTheByte(self) -> None:
        """
        Fed byte by byte, a frame fails on the first byte that makes its
        text invalid (Autobahn cases 6.4.x): the second byte of a code point
        above U+10FFFF, or of a surrogate.
        """
        for valid, invalid in [(b"\xf4", b"\x90"), (b"\xed", b"\xa0")]:
            payload = b"abc" + valid + invalid + b"\x80\x80 rest of the text"
            frame = masked(Opcode.TEXT, payload)
            offending = len(frame) - len(payload) + 4
            decoder = FrameDecoder(maxMessageSize=LIMIT)
            for index in range(offending):
                self.assertEqual(decoder.feed(frame[index : index + 1]), [])
            self.assertCloses(decoder, frame[offending : offending + 1], INVALID_PAYLOAD)

    def test_failFastAcrossFragments(self) -> None:
        """
        A fragment that begins by making the previous one's text invalid
        fails as soon as its first payload byte arrives (Autobahn 6.4.2).
        """
        first = masked(Opcode.TEXT, "κόσμε".encode() + b"\xf4", fin=False)
        second = masked(Opcode.CONTINUATION, b"\x90", fin=False)
        decoder = FrameDecoder(maxMessageSize=LIMIT)
        self.assertEqual(decoder.feed(first), [])
        self.assertEqual(decoder.feed(second[:-1]), [])
        self.assertCloses(decoder, second[-1:], INVALID_PAYLOAD)


class SizeLimitTests(DecoderTestCase):
    """
    Frames and messages over the limits fail with 1009, from the header.
    """

    def test_frameTooBig(self) -> None:
        frame = masked(Opcode.BINARY, b"x" * 11)
        self.assertAlwaysCloses(frame, MESSAGE_TOO_BIG, maxFrameSize=10)
        decoder = FrameDecoder(maxMessageSize=LIMIT, maxFrameSize=10)
        self.assertCloses(decoder, frame[:2], MESSAGE_TOO_BIG)

    def test_hugeLengthFailsFromHeader(self) -> None:
        """
        A header announcing 2**63 - 1 bytes fails at once, masked or not.
        """
        length = (2**63 - 1).to_bytes(8, "big")
        decoder = FrameDecoder(maxMessageSize=LIMIT)
        self.assertCloses(decoder, b"\x82\xff" + length + KEY, MESSAGE_TOO_BIG)
        decoder = FrameDecoder(maxMessageSize=LIMIT, expectMasked=False)
        self.assertCloses(decoder, b"\x82\x7f" + length, MESSAGE_TOO_BIG)

    def test_messageTooBig(self) -> None:
        """
        The fragment that takes a message over the limit fails from its
        header.
        """
        first = masked(Opcode.BINARY, b"x" * 6, fin=False)
        second = masked(Opcode.CONTINUATION, b"x" * 5)
        decoder = FrameDecoder(maxMessageSize=10)
        self.assertEqual(decoder.feed(first), [])
        self.assertCloses(decoder, second[: 2 + len(KEY)], MESSAGE_TOO_BIG)

    def test_wholeMessageTooBig(self) -> None:
        frame = masked(Opcode.TEXT, b"x" * 11)
        self.assertAlwaysCloses(frame, MESSAGE_TOO_BIG, maxMessageSize=10)

    def test_controlFramesNotCounted(self) -> None:
        data = (
            masked(Opcode.BINARY, b"x" * 6, fin=False)
            + masked(Opcode.PING, b"p" * 100)
            + masked(Opcode.CONTINUATION, b"x" * 4)
        )
        self.assertDecodes(data, [Ping(b"p" * 100), b"x" * 10], maxMessageSize=10)


class EncodingTests(SynchronousTestCase):
    """
    The frames a server sends.
    """

    def test_text(self) -> None:
        self.assertEqual(encodeText("é"), b"\x81\x02\xc3\xa9")

    def test_binary(self) -> None:
        self.assertEqual(encodeBinary(b"\x00"), b"\x82\x01\x00")

    def test_message(self) -> None:
        """
        Without permessage-deflate, L{encodeMessage} builds the same frames
        as L{encodeText} and L{encodeBinary}.
        """
        for length in BOUNDARY_LENGTHS:
            self.assertEqual(encodeMessage("é" * length), encodeText("é" * length))
            self.assertEqual(encodeMessage(b"b" * length), encodeBinary(b"b" * length))

    def test_compressedMessage(self) -> None:
        """
        With permessage-deflate, a long enough message is compressed and
        sent with RSV1 (RFC 7692 section 7.2.3.1).
        """
        deflate = PerMessageDeflate(minSize=5)
        self.assertEqual(encodeMessage("Hell", deflate), encodeText("Hell"))
        self.assertEqual(encodeMessage("Hello", deflate), bytes.fromhex("c107f248cdc9c90700"))

    def test_frameFlags(self) -> None:
        self.assertEqual(encodeFrame(Opcode.TEXT, b"", fin=False, rsv=RSV1), b"\x41\x00")
        self.assertEqual(encodeFrame(Opcode.CONTINUATION, b"", rsv=RSV2 | RSV3), b"\xb0\x00")

    def test_pingPong(self) -> None:
        self.assertEqual(encodePing(), b"\x89\x00")
        self.assertEqual(encodePong(b"hi"), b"\x8a\x02hi")

    def test_controlPayloadTooLong(self) -> None:
        self.assertRaises(ValueError, encodePing, b"x" * 126)
        self.assertRaises(ValueError, encodePong, b"x" * 126)

    def test_close(self) -> None:
        self.assertEqual(encodeClose(), b"\x88\x00")
        self.assertEqual(encodeClose(1000), b"\x88\x02\x03\xe8")
        self.assertEqual(encodeClose(1001, "bye"), b"\x88\x05\x03\xe9bye")

    def test_closeReasonTruncated(self) -> None:
        """
        A long reason is cut to fit in 125 bytes, never inside a character.
        """
        for reason in ["a" * 200, "é" * 100, "a" + "é" * 100, "\U0001f600" * 40]:
            frame = encodeClose(1000, reason)
            self.assertLessEqual(len(frame), 2 + MAX_PAYLOAD_NORMAL)
            self.assertGreater(len(frame), 2 + MAX_PAYLOAD_NORMAL - 4)
            [event] = FrameDecoder(maxMessageSize=LIMIT, expectMasked=False).feed(frame)
            self.assertTrue(reason.startswith(event.reason))

    def test_closeRefused(self) -> None:
        self.assertRaises(ValueError, encodeClose, 1005)
        self.assertRaises(ValueError, encodeClose, 999)
        self.assertRaises(ValueError, encodeClose, None, "reason without a code")

    def test_maskBelowAndAboveThreshold(self) -> None:
        """
        L{applyMask} (compiled, if built) and L{pythonApplyMask} XOR byte
        I{i} with key byte I{i mod 4}, at every size.
        """
        key = b"\x01\x80\xff\x5a"
        for mask in (applyMask, pythonApplyMask):
            for size in [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 511, 512, 513, 4099]:
                data = bytes(index % 251 for index in range(size))
                expected = bytes(byte ^ key[index % 4] for index, byte in enumerate(data))
                self.assertEqual(mask(data, key), expected, (mask, size))

    @given(st.binary(max_size=2000), st.binary(min_size=4, max_size=4))
    def test_maskTwiceIsIdentity(self, data: bytes, key: bytes) -> None:
        self.assertEqual(applyMask(applyMask(data, key), key), data)

    @given(st.binary(max_size=3000), st.binary(min_size=4, max_size=4), st.integers(0, 7))
    def test_compiledAgreesWithPython(self, data: bytes, key: bytes, start: int) -> None:
        """Both masks agree, on bytes, bytearrays and unaligned memoryviews."""
        expected = pythonApplyMask(data[start:], key)
        self.assertEqual(applyMask(data[start:], key), expected)
        self.assertEqual(applyMask(memoryview(bytearray(data))[start:], key), expected)

    def test_compiledMaskNeedsAFourByteKey(self) -> None:
        if SPEEDUPS:
            self.assertRaises(ValueError, applyMask, b"data", b"abc")
        self.assertIsInstance(applyMask(bytearray(b"data"), b"abcd"), bytes)


messages = st.lists(
    st.one_of(st.text(), st.binary(), st.binary(min_size=100, max_size=1000)),
    max_size=6,
)
keys = st.binary(min_size=4, max_size=4)


class RoundTripTests(SynchronousTestCase):
    """
    Whatever a peer sends, however it fragments and masks it and however the
    network cuts it, comes out as the same messages and control frames.
    """

    @settings(deadline=None)
    @given(st.data(), messages, st.booleans())
    def test_roundTrip(
        self, data: st.DataObject, sent: list[str | bytes], fromClient: bool
    ) -> None:
        frames: list[bytes] = []
        expected: list[Event] = []

        def frame(opcode: int, payload: bytes, fin: bool = True) -> None:
            mask = data.draw(keys) if fromClient else None
            frames.append(encodeFrame(opcode, payload, fin=fin, mask=mask))

        for message in sent:
            if isinstance(message, str):
                opcode, payload = Opcode.TEXT, message.encode()
            else:
                opcode, payload = Opcode.BINARY, message
            cuts = data.draw(st.lists(st.integers(0, len(payload)), max_size=3))
            bounds = [0, *sorted(cuts), len(payload)]
            for index, (start, stop) in enumerate(pairwise(bounds)):
                if index and data.draw(st.booleans()):
                    ping = data.draw(st.binary(max_size=MAX_PAYLOAD_NORMAL))
                    frame(Opcode.PING, ping)
                    expected.append(Ping(ping))
                last = index == len(bounds) - 2
                frame(opcode if index == 0 else Opcode.CONTINUATION, payload[start:stop], last)
            expected.append(message)

        wire = b"".join(frames)
        received = feedCut(data, FrameDecoder(maxMessageSize=LIMIT, expectMasked=fromClient), wire)
        self.assertEqual(received, expected)


class CountingRandom:
    """
    A stand-in for C{os.urandom} that counts its calls and returns
    distinguishable bytes.
    """

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, size: int) -> bytes:
        self.calls.append(size)
        start = len(self.calls) * 16
        return bytes((start + index) % 256 for index in range(size))


class MaskKeysTests(SynchronousTestCase):
    """
    L{MaskKeys} cuts keys from blocks of random bytes.
    """

    def test_keysAreTheBlockInOrder(self) -> None:
        """
        Keys are the random bytes, four at a time, each byte used once; a
        new block is drawn when one is used up.
        """
        source = CountingRandom()
        keys = MaskKeys(blockSize=8, random=source)
        drawn = [keys.next() for _ in range(5)]
        self.assertEqual(source.calls, [8, 8, 8])
        self.assertEqual(
            drawn,
            [
                bytes(range(16, 20)),
                bytes(range(20, 24)),
                bytes(range(32, 36)),
                bytes(range(36, 40)),
                bytes(range(48, 52)),
            ],
        )

    def test_oneSystemCallPerBlock(self) -> None:
        """
        The default draws 1024 bytes of C{os.urandom} per 256 keys, and the
        keys are those bytes.
        """
        blocks: list[bytes] = []

        def urandom(size: int) -> bytes:
            blocks.append(os.urandom(size))
            return blocks[-1]

        keys = MaskKeys(random=urandom)
        drawn = b"".join(keys.next() for _ in range(1000))
        self.assertEqual([len(block) for block in blocks], [1024] * 4)
        self.assertEqual(drawn, b"".join(blocks)[:4000])

    def test_defaultSourceIsTheKernel(self) -> None:
        keys = MaskKeys()
        self.assertIs(keys._random, os.urandom)
        self.assertEqual(len(keys.next()), 4)

    def test_blockSize(self) -> None:
        for size in (0, -4, 6):
            self.assertRaises(ValueError, MaskKeys, size)

    def test_forkForgets(self) -> None:
        """
        After a fork, keys come from a block the child draws itself.
        """
        source = CountingRandom()
        keys = MaskKeys(blockSize=8, random=source)
        keys.next()
        _forgetKeysAfterFork()
        self.assertEqual(keys.next(), bytes(range(32, 36)))
        self.assertEqual(len(source.calls), 2)

    def test_forkedChildDrawsItsOwn(self) -> None:
        """
        A real child process sends other keys than its parent.
        """
        keys = MaskKeys()
        keys.next()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                os.write(write, keys.next())
            finally:
                os._exit(0)
        os.close(write)
        try:
            childKey = os.read(read, 4)
        finally:
            os.close(read)
            os.waitpid(pid, 0)
        self.assertEqual(len(childKey), 4)
        # Had the child kept the inherited block, both would draw the same.
        self.assertNotEqual(childKey, keys.next())

    def test_noReferenceCycle(self) -> None:
        """
        A L{MaskKeys} is freed as soon as it is dropped, without the garbage
        collector.
        """
        import gc
        import weakref

        keys = MaskKeys()
        keys.next()
        ref = weakref.ref(keys)
        gc.disable()
        try:
            del keys
            self.assertIsNone(ref())
        finally:
            gc.enable()


class MaskedEncodingTests(DecoderTestCase):
    """
    The frames a client sends: masked with the key given.
    """

    def test_rfcMaskedText(self) -> None:
        """
        RFC 6455 section 5.7: a single-frame masked text message.
        """
        self.assertEqual(
            encodeMaskedMessage("Hello", key=KEY),
            bytes.fromhex("818537fa213d7f9f4d5158"),
        )

    def test_rfcMaskedPong(self) -> None:
        """
        RFC 6455 section 5.7: the masked pong answering a ping of "Hello".
        """
        self.assertEqual(
            encodeMaskedPong(b"Hello", key=KEY), bytes.fromhex("8a8537fa213d7f9f4d5158")
        )

    def test_maskedFrameAgreesWithEncodeFrame(self) -> None:
        """
        L{maskedFrame} (compiled, if built) and L{pythonMaskedFrame} build
        what L{encodeFrame} does, at every length boundary and for any
        bytes-like payload.
        """
        for length in BOUNDARY_LENGTHS:
            payload = bytes(index % 253 for index in range(length))
            expected = encodeFrame(Opcode.BINARY, payload, mask=KEY)
            for build in (maskedFrame, pythonMaskedFrame):
                for kind in (bytes, bytearray, memoryview):
                    frame = build(0x80 | Opcode.BINARY, kind(payload), KEY)  # type: ignore[arg-type]
                    self.assertEqual(frame, expected, (build, kind, length))

    def test_maskedTextAgreesWithEncodeFrame(self) -> None:
        """
        L{maskedText} (compiled, if built) and L{pythonMaskedText} build the
        final text frame of the text's UTF-8, at every length boundary, for
        ASCII text (read in place by the C version) and any other.
        """
        for length in BOUNDARY_LENGTHS:
            for text in ("a" * length, "é" * (length // 2) + "x" * (length % 2), "😀" * 3):
                expected = encodeFrame(Opcode.TEXT, text.encode("utf-8"), mask=KEY)
                for build in (maskedText, pythonMaskedText):
                    self.assertEqual(build(text, KEY), expected, (build, length))

    def test_maskedTextRefusesLoneSurrogates(self) -> None:
        for build in (maskedText, pythonMaskedText):
            self.assertRaises(UnicodeEncodeError, build, "a\ud800", KEY)

    def test_compiledArguments(self) -> None:
        if not SPEEDUPS:
            return
        self.assertRaises(TypeError, maskedText, b"bytes", KEY)
        self.assertRaises(ValueError, maskedText, "x", b"abc")
        self.assertRaises(TypeError, maskedText, "x")
        self.assertRaises(ValueError, maskedFrame, 0x81, b"x", b"abc")
        self.assertRaises(ValueError, maskedFrame, 256, b"x", KEY)
        self.assertRaises(ValueError, maskedFrame, -1, b"x", KEY)
        self.assertRaises(TypeError, maskedFrame, 0x81, "text", KEY)
        self.assertRaises(TypeError, maskedFrame, 0x81, b"x")

    def test_messagesDecode(self) -> None:
        """
        What the client encodes, the server decodes in any chunking.
        """
        for length in BOUNDARY_LENGTHS:
            text = "é" * (length // 2)
            data = bytes(range(256)) * (length // 256) + bytes(length % 256)
            wire = encodeMaskedMessage(text, key=KEY) + encodeMaskedMessage(
                data, key=b"\x00\xff\x10\x01"
            )
            self.assertDecodes(wire, [text, data])

    def test_compressed(self) -> None:
        """
        With permessage-deflate, a long enough message goes compressed, with
        RSV1, and the server inflates it.
        """
        client = PerMessageDeflate(minSize=5)
        server = PerMessageDeflate(minSize=5)
        short = encodeMaskedMessage("Hell", client, key=KEY)
        self.assertEqual(short, encodeMaskedMessage("Hell", key=KEY))
        long = encodeMaskedMessage("Hello", client, key=KEY)
        self.assertEqual(long[0], 0xC1)
        self.assertEqual(applyMask(long[6:], KEY), bytes.fromhex("f248cdc9c90700"))
        decoder = FrameDecoder(maxMessageSize=LIMIT, deflate=server)
        self.assertEqual(decoder.feed(short + long), ["Hell", "Hello"])

    def test_control(self) -> None:
        wire = (
            encodeMaskedPing(key=KEY)
            + encodeMaskedPing(b"p" * 125, key=KEY)
            + encodeMaskedPong(b"q", key=KEY)
            + encodeMaskedClose(1000, "bye", key=KEY)
        )
        self.assertDecodes(wire, [Ping(b""), Ping(b"p" * 125), Pong(b"q"), Close(1000, "bye")])
        self.assertDecodes(encodeMaskedClose(key=KEY), [Close(None, "")])

    def test_controlRefused(self) -> None:
        self.assertRaises(ValueError, encodeMaskedPing, b"x" * 126, key=KEY)
        self.assertRaises(ValueError, encodeMaskedPong, b"x" * 126, key=KEY)
        self.assertRaises(ValueError, encodeMaskedClose, 1005, key=KEY)
        self.assertRaises(ValueError, encodeMaskedClose, None, "no code", key=KEY)

    def test_closeReasonTruncated(self) -> None:
        frame = encodeMaskedClose(1000, "é" * 100, key=KEY)
        [event] = FrameDecoder(maxMessageSize=LIMIT).feed(frame)
        assert isinstance(event, Close)
        self.assertEqual(event.reason, "é" * 61)

    @settings(deadline=None)
    @given(st.data(), messages, st.booleans())
    def test_roundTrip(self, data: st.DataObject, sent: list[str | bytes], deflate: bool) -> None:
        """
        Any messages, each with a key from L{MaskKeys}, compressed or not,
        come out of the server's decoder as sent, however the network cuts
        them.
        """
        keys = MaskKeys()
        client = PerMessageDeflate(minSize=0) if deflate else None
        server = PerMessageDeflate() if deflate else None
        wire = b"".join(encodeMaskedMessage(message, client, key=keys.next()) for message in sent)
        decoder = FrameDecoder(maxMessageSize=LIMIT, deflate=server)
        self.assertEqual(feedCut(data, decoder, wire), sent)


class ClientDecodingTests(DecoderTestCase):
    """
    What a client's decoder (C{expectMasked=False}) refuses from a server.
    """

    def test_maskedServerFrames(self) -> None:
        """
        Any masked frame from a server fails with 1002, data or control.
        """
        for opcode, payload in [
            (Opcode.TEXT, b"hi"),
            (Opcode.BINARY, b"\x00" * 200),
            (Opcode.PING, b""),
            (Opcode.PONG, b"x"),
            (Opcode.CLOSE, b"\x03\xe8"),
        ]:
            self.assertAlwaysCloses(masked(opcode, payload), PROTOCOL_ERROR, expectMasked=False)

    def test_maskedAfterGoodFrames(self) -> None:
        """
        The messages before the masked frame are delivered with the error.
        """
        decoder = FrameDecoder(maxMessageSize=LIMIT, expectMasked=False)
        error = self.assertCloses(decoder, encodeText("ok") + masked(Opcode.TEXT, b"no"), 1002)
        self.assertEqual(error.events, ["ok"])
        self.assertEqual(error.reason, "masked frame")

    def test_invalidUtf8(self) -> None:
        for data in [
            encodeFrame(Opcode.TEXT, b"\xed\xa0\x80"),
            encodeFrame(Opcode.TEXT, b"ok\xce", fin=False)
            + encodeFrame(Opcode.CONTINUATION, b"ok"),
            encodeFrame(Opcode.CLOSE, b"\x03\xe8\xff"),
        ]:
            self.assertAlwaysCloses(data, INVALID_PAYLOAD, expectMasked=False)

    def test_invalidCompressedUtf8(self) -> None:
        frame = encodeFrame(Opcode.TEXT, PerMessageDeflate().compress(b"\xc3\x28"), rsv=RSV1)
        self.assertAlwaysCloses(frame, INVALID_PAYLOAD, withDeflate=True, expectMasked=False)
