"""
Tests for receiving a large frame's payload in place: L{PayloadBuffer} (the
compiled one, when built, and L{PythonPayloadBuffer}) and the decoder's
L{FrameDecoder.readBuffer}, fed and read into at every kind of boundary.
"""

from __future__ import annotations

import os
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.errors import ProtocolError
from ratchet_tx.websocket.codecs.events import Close, Event, Ping
from ratchet_tx.websocket.codecs.hybi import (
    PAYLOAD_BUFFER_SIZE,
    SPEEDUPS,
    FrameDecoder,
    Opcode,
    PythonPayloadBuffer,
    applyMask,
    encodeFrame,
)

KEY = b"\x37\xfa\x21\x3d"
LIMIT = 16 * 2**20
LARGE = PAYLOAD_BUFFER_SIZE + 3  # not a multiple of the key's size


def _compiled() -> Any:
    from ratchet_tx.websocket.codecs._speedups import PayloadBuffer

    return PayloadBuffer


#: Every kind of payload buffer this build has, by name.
BUFFERS: dict[str, Any] = {"python": PythonPayloadBuffer}
if SPEEDUPS:
    BUFFERS["compiled"] = _compiled()


def masked(opcode: int, payload: bytes = b"", **kwargs: Any) -> bytes:
    """A frame as a client sends it, masked with L{KEY}."""
    return encodeFrame(opcode, payload, mask=KEY, **kwargs)


def payloadOf(size: int, seed: int = 0) -> bytes:
    """C{size} bytes in which a misplaced run shows."""
    return (os.urandom(251) if seed else bytes(range(251))) * (size // 251) + bytes(size % 251)


class BufferTests:
    """Mixed into a test case for each kind of buffer (C{kind})."""

    kind: Any

    def test_writeInEveryPiece(self) -> None:
        """
        Written in pieces cut anywhere (the key's phase at every offset),
        the buffer holds the payload unmasked, and take() returns it.
        """
        data = payloadOf(1000)
        wire = applyMask(data, KEY)
        for size in (1, 2, 3, 4, 5, 7, 999, 1000):
            buffer = self.kind(len(data), KEY)
            for start in range(0, len(wire), size):
                taken = buffer.write(wire[start : start + size], 0)
                self.assertEqual(taken, min(size, 1000 - start))
            self.assertIsNone(buffer.window())
            self.assertEqual(buffer.take(), data, size)

    def test_writeFromAnOffset(self) -> None:
        """write(data, start) takes data[start:], as much as fits."""
        buffer = self.kind(4)
        self.assertEqual(buffer.write(b"xxab", 2), 2)
        self.assertEqual(buffer.write(b"cdef", 0), 2)
        self.assertEqual(buffer.write(b"gh", 0), 0)
        self.assertEqual(buffer.filled, 4)
        self.assertEqual(buffer.take(), b"abcd")

    def test_writeOutside(self) -> None:
        buffer = self.kind(4)
        self.assertRaises(ValueError, buffer.write, b"ab", 3)
        self.assertRaises(ValueError, buffer.write, b"ab", -1)

    def test_windowAndAdvance(self) -> None:
        """
        Bytes put into window() (raw, as a socket reads them) are unmasked
        by advance(), mixed with writes in any order.
        """
        data = payloadOf(1001)
        wire = applyMask(data, KEY)
        for size in (1, 3, 4, 6, 1000):
            buffer = self.kind(len(data), KEY)
            direct = False
            pos = 0
            while pos < len(wire):
                piece = wire[pos : pos + size]
                if direct:
                    window = buffer.window()
                    window[: len(piece)] = piece
                    window.release()
                    buffer.advance(len(piece))
                else:
                    buffer.write(piece, 0)
                pos += len(piece)
                direct = not direct
                self.assertEqual(buffer.filled, pos)
            self.assertEqual(buffer.take(), data)

    def test_windowIsWhatIsMissing(self) -> None:
        buffer = self.kind(10)
        buffer.write(b"abc", 0)
        window = buffer.window()
        self.assertEqual(len(window), 7)
        self.assertFalse(window.readonly)
        window.release()

    def test_advancePastTheEnd(self) -> None:
        buffer = self.kind(3)
        self.assertRaises(ValueError, buffer.advance, 4)
        self.assertRaises(ValueError, buffer.advance, -1)
        buffer.advance(3)
        self.assertRaises(ValueError, buffer.advance, 1)

    def test_unmasked(self) -> None:
        """Without a key nothing is unmasked."""
        buffer = self.kind(5)
        window = buffer.window()
        window[:2] = b"ab"
        window.release()
        buffer.advance(2)
        buffer.write(b"cde", 0)
        self.assertEqual(buffer.take(), b"abcde")

    def test_empty(self) -> None:
        buffer = self.kind(0, KEY)
        self.assertIsNone(buffer.window())
        self.assertEqual(buffer.take(), b"")

    def test_view(self) -> None:
        """view() shows received bytes only, unmasked."""
        buffer = self.kind(8, KEY)
        buffer.write(applyMask(b"abcdefgh", KEY)[:5], 0)
        view = buffer.view(1, 5)
        self.assertEqual(bytes(view), b"bcde")
        view.release()
        self.assertRaises(ValueError, buffer.view, 0, 6)
        self.assertRaises(ValueError, buffer.view, 3, 2)

    def test_takeOnce(self) -> None:
        """take() wants the whole payload, and gives it once."""
        buffer = self.kind(2)
        buffer.write(b"a", 0)
        self.assertRaises(ValueError, buffer.take)
        buffer.write(b"b", 0)
        self.assertEqual(type(buffer.take()), bytes)
        self.assertRaises(ValueError, buffer.take)
        self.assertIsNone(buffer.window())
        self.assertRaises(ValueError, buffer.write, b"c", 0)

    def test_close(self) -> None:
        """A closed buffer wants nothing more and gives nothing."""
        buffer = self.kind(4)
        buffer.write(b"ab", 0)
        buffer.close()
        self.assertIsNone(buffer.window())
        self.assertRaises(ValueError, buffer.write, b"cd", 0)
        self.assertRaises(ValueError, buffer.advance, 1)
        self.assertRaises(ValueError, buffer.take)

    def test_badArguments(self) -> None:
        self.assertRaises(ValueError, self.kind, -1)
        self.assertRaises(ValueError, self.kind, 4, b"abc")


class CompiledBufferOnly:
    """
    What only the compiled buffer, which hands out its own memory, must
    check (a test case only where it is built).
    """

    def test_noViewOutlivesTake(self) -> None:
        """
        While a view of the payload is alive it cannot be taken: the bytes
        handed out never change under their owner.
        """
        buffer = _compiled()(2)
        window = buffer.window()
        window[:2] = b"ab"
        buffer.advance(2)
        self.assertRaises(BufferError, buffer.take)
        window.release()
        self.assertEqual(buffer.take(), b"ab")

    def test_closedWithAViewAlive(self) -> None:
        """Closed while a view is alive, the buffer still gives nothing."""
        buffer = _compiled()(2)
        window = buffer.window()
        buffer.close()
        window[:2] = b"ab"
        window.release()
        self.assertIsNone(buffer.window())
        self.assertRaises(ValueError, buffer.take)


class DecoderFeeding:
    """
    How a test feeds a decoder: in reads cut at given offsets, and (when
    C{direct}) with the bytes of a large payload put straight into the
    decoder's readBuffer, as a transport does, followed by feed(b"").
    """

    kind: Any

    def setUp(self) -> None:
        self.patch(hybi, "PayloadBuffer", self.kind)  # type: ignore[attr-defined]

    def decoder(self, **kwargs: Any) -> FrameDecoder:
        kwargs.setdefault("maxMessageSize", LIMIT)
        return FrameDecoder(**kwargs)

    def feed(
        self, decoder: FrameDecoder, wire: bytes, cuts: list[int], direct: bool = False
    ) -> list[Event]:
        events: list[Event] = []
        for start, stop in pairwise([0, *sorted(cuts), len(wire)]):
            pos = start
            while direct and pos < stop and decoder.readBuffer is not None:
                window = decoder.readBuffer.window()
                assert window is not None
                count = min(len(window), stop - pos)
                window[:count] = wire[pos : pos + count]
                window.release()
                decoder.readBuffer.advance(count)
                pos += count
                events += decoder.feed(b"")
            if pos < stop:
                events += decoder.feed(wire[pos:stop])
        return events


class DecoderTests(DecoderFeeding):
    """The decoder with each kind of buffer (C{kind})."""

    def assertDecodes(self, wire: bytes, expected: list[Any], **kwargs: Any) -> None:
        """C{wire} decodes to C{expected} whatever the reads, fed or direct."""
        sizes = [1, 2, 3, 7, 13, 14, 4096, PAYLOAD_BUFFER_SIZE - 1, PAYLOAD_BUFFER_SIZE + 20]
        for size in sizes:
            for direct in (False, True):
                cuts = list(range(size, len(wire), size))
                events = self.feed(self.decoder(**kwargs), wire, cuts, direct)
                self.assertEqual(events, expected, (size, direct))

    def test_largeBinary(self) -> None:
        """A large binary message comes out whole, as bytes."""
        data = payloadOf(LARGE)
        self.assertDecodes(masked(Opcode.BINARY, data), [data])

    def test_largeText(self) -> None:
        """A large text message comes out whole, however its characters are cut."""
        text = "aé€😀" * (LARGE // 10)
        self.assertDecodes(masked(Opcode.TEXT, text.encode()), [text])

    def test_unmaskedFromAServer(self) -> None:
        data = payloadOf(LARGE)
        self.assertDecodes(encodeFrame(Opcode.BINARY, data), [data], expectMasked=False)

    def test_framesAround(self) -> None:
        """
        Small frames before it, a ping and a close after it, in the same
        reads as its first and last bytes.
        """
        data = payloadOf(LARGE)
        wire = (
            masked(Opcode.TEXT, b"before")
            + masked(Opcode.BINARY, data)
            + masked(Opcode.PING, b"p")
            + masked(Opcode.BINARY, b"after")
            + masked(Opcode.BINARY, data)
            + masked(Opcode.CLOSE, b"\x03\xe8")
        )
        self.assertDecodes(wire, ["before", data, Ping(b"p"), b"after", data, Close(1000, "")])

    def test_oneRead(self) -> None:
        """A large frame that arrives whole in one read needs no buffer."""
        data = payloadOf(LARGE)
        decoder = self.decoder()
        wire = masked(Opcode.BINARY, data) + masked(Opcode.PING)
        self.assertEqual(decoder.feed(wire), [data, Ping(b"")])
        self.assertIsNone(decoder.readBuffer)

    def test_bufferWhileArriving(self) -> None:
        """readBuffer is there from the header on, and gone once it is whole."""
        data = payloadOf(LARGE)
        wire = masked(Opcode.BINARY, data)
        decoder = self.decoder()
        self.assertEqual(decoder.feed(wire[:20]), [])
        buffer = decoder.readBuffer
        assert buffer is not None
        self.assertEqual((buffer.size, buffer.filled), (LARGE, 6))
        self.assertEqual(decoder.feed(wire[20:]), [data])
        self.assertIsNone(decoder.readBuffer)

    def test_smallAndFragmentedTakeTheUsualPath(self) -> None:
        """
        Payloads under the threshold, and fragments of a message, are not
        received into a buffer of their own.
        """
        small = payloadOf(PAYLOAD_BUFFER_SIZE - 1)
        decoder = self.decoder()
        decoder.feed(masked(Opcode.BINARY, small)[:100])
        self.assertIsNone(decoder.readBuffer)
        data = payloadOf(LARGE)
        fragments = masked(Opcode.BINARY, data, fin=False) + masked(Opcode.CONTINUATION, data)
        decoder = self.decoder()
        decoder.feed(fragments[:100])
        self.assertIsNone(decoder.readBuffer)
        self.assertDecodes(fragments, [data + data])

    def test_compressedTakesTheUsualPath(self) -> None:
        from ratchet_tx.websocket.codecs.deflate import PerMessageDeflate

        sender = PerMessageDeflate(minSize=0)
        data = os.urandom(LARGE)  # does not compress: stays large
        compressed = sender.compress(data)
        wire = masked(Opcode.BINARY, compressed, rsv=hybi.RSV1)
        decoder = self.decoder(deflate=PerMessageDeflate())
        self.assertEqual(decoder.feed(wire[:100]), [])
        self.assertIsNone(decoder.readBuffer)
        self.assertEqual(decoder.feed(wire[100:]), [data])

    def test_invalidUtf8FailsAtOnce(self) -> None:
        """
        Invalid UTF-8 in a large text message fails with 1007 as soon as it
        arrives, fed or read into the buffer, and the buffer is given up.
        """
        payload = b"a" * 1000 + b"\xff" + b"b" * LARGE
        wire = masked(Opcode.TEXT, payload)
        for direct in (False, True):
            decoder = self.decoder()
            decoder.feed(wire[:500])
            buffer = decoder.readBuffer
            with self.assertRaises(ProtocolError) as raised:  # type: ignore[attr-defined]
                self.feed(decoder, wire[500:1200], [], direct)
            self.assertEqual(raised.exception.code, 1007)
            self.assertIsNone(decoder.readBuffer)
            self.assertIsNone(buffer.window())

    def test_textEndingMidCharacter(self) -> None:
        payload = b"a" * LARGE + "é".encode()[:1]
        wire = masked(Opcode.TEXT, payload)
        for direct in (False, True):
            decoder = self.decoder()
            with self.assertRaises(ProtocolError) as raised:  # type: ignore[attr-defined]
                self.feed(decoder, wire, [100], direct)
            self.assertEqual(raised.exception.code, 1007)

    def test_oversized(self) -> None:
        """A frame over the limit fails with 1009 from its header: no buffer."""
        decoder = self.decoder(maxMessageSize=LARGE - 1)
        with self.assertRaises(ProtocolError) as raised:  # type: ignore[attr-defined]
            decoder.feed(masked(Opcode.BINARY, payloadOf(LARGE))[:100])
        self.assertEqual(raised.exception.code, 1009)
        self.assertIsNone(decoder.readBuffer)

    def test_errorAfterTheBufferedMessage(self) -> None:
        """The message completed before a bad frame in the same read is delivered."""
        data = payloadOf(LARGE)
        wire = masked(Opcode.BINARY, data) + encodeFrame(Opcode.BINARY, b"unmasked")
        decoder = self.decoder()
        decoder.feed(wire[:100])
        with self.assertRaises(ProtocolError) as raised:  # type: ignore[attr-defined]
            decoder.feed(wire[100:])
        self.assertEqual((raised.exception.code, raised.exception.events), (1002, [data]))


class DecoderPropertyTests(DecoderFeeding, SynchronousTestCase):
    kind = PythonPayloadBuffer

    @settings(max_examples=60, deadline=None)
    @given(st.data())
    def test_anyCutsAnyWay(self, data: st.DataObject) -> None:
        """
        Any mix of small and large messages, text and binary, cut anywhere,
        fed or read straight into either kind of buffer, decodes to those
        messages.
        """
        hybi.PayloadBuffer = data.draw(st.sampled_from(list(BUFFERS.values())))
        kinds = data.draw(st.lists(st.sampled_from(["small", "bin", "text", "ping"]), max_size=4))
        wire = b""
        expected: list[Any] = []
        for index, kind in enumerate(kinds):
            if kind == "small":
                wire += masked(Opcode.BINARY, b"s%d" % index)
                expected.append(b"s%d" % index)
            elif kind == "ping":
                wire += masked(Opcode.PING, b"p")
                expected.append(Ping(b"p"))
            elif kind == "bin":
                payload = payloadOf(PAYLOAD_BUFFER_SIZE + index, seed=1)
                wire += masked(Opcode.BINARY, payload)
                expected.append(payload)
            else:
                text = "€x" * (PAYLOAD_BUFFER_SIZE // 4 + index)
                wire += masked(Opcode.TEXT, text.encode())
                expected.append(text)
        cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=12))
        direct = data.draw(st.booleans())
        self.assertEqual(self.feed(self.decoder(), wire, cuts, direct), expected)


if SPEEDUPS:

    class CompiledBufferOnlyTests(CompiledBufferOnly, SynchronousTestCase):
        pass


for _name, _kind in BUFFERS.items():
    for _tests in (BufferTests, DecoderTests):
        _class = f"{_tests.__name__}_{_name}"
        globals()[_class] = type(
            _class, (_tests, SynchronousTestCase), {"kind": _kind, "__module__": __name__}
        )
del _name, _kind, _tests, _class
