"""
Tests for L{ratchet_tx.websocket.codecs.utf8}: strict UTF-8 that fails fast.
"""

from __future__ import annotations

from itertools import pairwise, product

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.errors import ProtocolError
from ratchet_tx.websocket.codecs.utf8 import Utf8Decoder, decodeUtf8

INVALID_PAYLOAD = 1007

#: Byte sequences a property test strings together: valid code points at
#: every length and edge, and the classic invalid sequences.
SEQUENCES = [
    b"a",
    b"\x7f",
    b"\xc2\x80",
    b"\xce\xba",
    b"\xdf\xbf",
    b"\xe0\xa0\x80",
    b"\xed\x9f\xbf",  # U+D7FF, the last code point before the surrogates
    b"\xee\x80\x80",  # U+E000, the first one after them
    b"\xef\xbf\xbf",
    b"\xf0\x90\x80\x80",
    b"\xf4\x8f\xbf\xbf",  # U+10FFFF
    b"\xed\xa0\x80",  # surrogate U+D800
    b"\xed\xbf\xbf",  # surrogate U+DFFF
    b"\xc0\x80",  # overlong NUL
    b"\xc1\xbf",
    b"\xe0\x80\x80",
    b"\xe0\x9f\xbf",
    b"\xf0\x80\x80\x80",
    b"\xf0\x8f\xbf\xbf",
    b"\xf4\x90\x80\x80",  # U+110000
    b"\xf5\x80\x80\x80",
    b"\x80",
    b"\xbf",
    b"\xfe",
    b"\xff",
    b"\xc2",
    b"\xe1\x80",
    b"\xf1\x80\x80",
]

#: Second bytes that, followed by any continuation bytes, complete every
#: valid lead byte (E0 needs A0 and up, F0 90 and up, ED and F4 at most 9F
#: and 8F).
_SECOND_BYTES = (0x80, 0x90, 0xA0)
_CONTINUATION = 0x80
_MAX_SEQUENCE = 4


def canStartValidText(prefix: bytes) -> bool:
    """
    Whether some bytes appended to C{prefix} make valid UTF-8: the reference
    a fail-fast decoder is checked against, by brute force.
    """
    for tailSize in range(_MAX_SEQUENCE):
        for second in _SECOND_BYTES if tailSize else (None,):
            tail = b"" if second is None else bytes([second] + [_CONTINUATION] * (tailSize - 1))
            try:
                (prefix + tail).decode("utf-8")
            except UnicodeDecodeError:
                continue
            return True
    return False


byteStrings = st.one_of(
    st.binary(max_size=12),
    st.lists(st.sampled_from(SEQUENCES), max_size=6).map(b"".join),
)


class ReferenceTests(SynchronousTestCase):
    """
    L{canStartValidText} knows which prefixes can still become valid text.
    """

    def test_prefixes(self) -> None:
        self.assertTrue(canStartValidText(b""))
        self.assertTrue(canStartValidText(b"\xe0\xa0"))
        self.assertTrue(canStartValidText(b"\xf4\x8f\xbf"))
        self.assertTrue(canStartValidText(b"\xed\x9f"))
        self.assertFalse(canStartValidText(b"\xed\xa0"))
        self.assertFalse(canStartValidText(b"\xe0\x9f"))
        self.assertFalse(canStartValidText(b"\xf4\x90"))
        self.assertFalse(canStartValidText(b"\xc0"))


class DecodeUtf8Tests(SynchronousTestCase):
    """
    L{decodeUtf8} decodes a whole message or fails with 1007.
    """

    def test_valid(self) -> None:
        self.assertEqual(decodeUtf8("κόσμε \U0010ffff".encode()), "κόσμε \U0010ffff")

    def test_invalid(self) -> None:
        for data in [b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"ok\xce"]:
            with self.assertRaises(ProtocolError) as caught:
                decodeUtf8(data)
            self.assertEqual(caught.exception.code, INVALID_PAYLOAD, data)


class Utf8DecoderTests(SynchronousTestCase):
    """
    L{Utf8Decoder} decodes text given in pieces and refuses the first piece
    after which the text can no longer be valid.
    """

    def assertDecodes(self, pieces: list[bytes], text: str) -> None:
        """
        Feeding C{pieces} to a new decoder, the last one final, gives C{text}.
        """
        decoder = Utf8Decoder()
        decoded = [decoder.decode(piece) for piece in pieces[:-1]]
        decoded.append(decoder.decode(pieces[-1], final=True))
        self.assertEqual("".join(decoded), text)

    def assertRejectsLast(self, *pieces: bytes, final: bool = False) -> None:
        """
        A new decoder accepts every piece but the last, and refuses the last
        one (given with C{final}) with close code 1007.
        """
        decoder = Utf8Decoder()
        for piece in pieces[:-1]:
            decoder.decode(piece)
        with self.assertRaises(ProtocolError) as caught:
            decoder.decode(pieces[-1], final)
        self.assertEqual(caught.exception.code, INVALID_PAYLOAD)

    def test_wholeText(self) -> None:
        self.assertDecodes(["κόσμε".encode()], "κόσμε")

    def test_empty(self) -> None:
        self.assertDecodes([b""], "")

    def test_splitAtEveryByte(self) -> None:
        text = "aκ\u20ac\U0001f600\U0010ffff"
        data = text.encode()
        for cut in range(len(data) + 1):
            self.assertDecodes([data[:cut], data[cut:]], text)
        self.assertDecodes([bytes([byte]) for byte in data], text)

    def test_edges(self) -> None:
        """
        The last code point before the surrogates, the first after them and
        the highest code point are valid.
        """
        self.assertDecodes([b"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf"], "\ud7ff\ue000\U0010ffff")

    def test_surrogate(self) -> None:
        self.assertRejectsLast(b"\xed\xa0\x80")
        self.assertRejectsLast(b"\xed\xbf\xbf")

    def test_surrogateFailsOnSecondByte(self) -> None:
        """
        C{ED A0} can only start a surrogate: it is refused before the third
        byte comes, in one piece or split.
        """
        self.assertRejectsLast(b"a\xed\xa0")
        self.assertRejectsLast(b"a\xed", b"\xa0")
        self.assertRejectsLast(b"\xed", b"\xbf")

    def test_overlong(self) -> None:
        self.assertRejectsLast(b"\xc0\x80")
        self.assertRejectsLast(b"\xc1\xbf")
        self.assertRejectsLast(b"\xe0\x80\x80")
        self.assertRejectsLast(b"\xf0\x80\x80\x80")

    def test_overlongFailsEarly(self) -> None:
        self.assertRejectsLast(b"\xc0")
        self.assertRejectsLast(b"\xe0", b"\x80")
        self.assertRejectsLast(b"\xf0", b"\x8f")

    def test_aboveMaximum(self) -> None:
        """
        Code points above U+10FFFF are refused as soon as the second byte
        shows them.
        """
        self.assertRejectsLast(b"\xf4\x90\x80\x80")
        self.assertRejectsLast(b"\xf4", b"\x90")
        self.assertRejectsLast(b"\xf5")

    def test_strayContinuation(self) -> None:
        self.assertRejectsLast(b"a\x80")
        self.assertRejectsLast(b"\xce\xba\xbf")

    def test_truncatedAtEnd(self) -> None:
        """
        An incomplete code point is held back until the text is final, then
        refused.
        """
        decoder = Utf8Decoder()
        self.assertEqual(decoder.decode(b"a\xf0\x90\x80"), "a")
        with self.assertRaises(ProtocolError) as caught:
            decoder.decode(b"", final=True)
        self.assertEqual(caught.exception.code, INVALID_PAYLOAD)

    def test_autobahn6_4_1(self) -> None:
        """
        The text of Autobahn case 6.4.1 comes in three fragments: the second
        one, holding U+110000, is refused before the third arrives.
        """
        self.assertRejectsLast("κόσμε".encode(), b"\xf4\x90\x80\x80")

    def test_reusedAfterFinal(self) -> None:
        decoder = Utf8Decoder()
        self.assertEqual(decoder.decode(b"\xce\xba", final=True), "κ")
        self.assertEqual(decoder.decode(b"\xce"), "")
        decoder.reset()
        self.assertEqual(decoder.decode(b"ok", final=True), "ok")

    @given(st.text(), st.lists(st.integers(min_value=0)))
    def test_anySplit(self, text: str, cuts: list[int]) -> None:
        """
        Any text, cut at any bytes, decodes to itself.
        """
        data = text.encode()
        cuts = sorted(cut % (len(data) + 1) for cut in cuts)
        bounds = [0, *cuts, len(data)]
        self.assertDecodes([data[a:b] for a, b in pairwise(bounds)], text)

    @settings(max_examples=300)
    @given(byteStrings)
    def test_failsAtFirstImpossibleByte(self, data: bytes) -> None:
        """
        Fed one byte at a time, the decoder refuses exactly the first byte
        after which no continuation can make valid text; fed whole, it
        agrees with C{bytes.decode}.
        """
        decoder = Utf8Decoder()
        for index in range(len(data)):
            if canStartValidText(data[: index + 1]):
                decoder.decode(data[index : index + 1])
            else:
                self.assertRaises(ProtocolError, decoder.decode, data[index : index + 1])
                break
        else:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                self.assertRaises(ProtocolError, decoder.decode, b"", True)
            else:
                decoder.decode(b"", True)

    def test_everyTwoBytePrefix(self) -> None:
        """
        Exhaustively, for every byte alone and every lead byte followed by a
        continuation byte, the decoder refuses the piece exactly when no
        valid text can start with it.
        """
        prefixes = [bytes([byte]) for byte in range(0x100)]
        prefixes += [bytes(pair) for pair in product(range(0xC0, 0x100), range(0x80, 0xC0))]
        for prefix in prefixes:
            decoder = Utf8Decoder()
            try:
                decoder.decode(prefix)
            except ProtocolError:
                accepted = False
            else:
                accepted = True
            self.assertEqual(accepted, canStartValidText(prefix), prefix)
