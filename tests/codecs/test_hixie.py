"""
Tests for L{ratchet_tx.websocket.codecs.hixie}.
"""

from __future__ import annotations

import random
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.errors import HandshakeError, ProtocolError
from ratchet_tx.websocket.codecs.events import Close
from ratchet_tx.websocket.codecs.hixie import (
    ANSWER_LENGTH,
    CLOSE_FRAME,
    KEY3_LENGTH,
    MAX_KEY_NUMBER,
    Challenge,
    HixieDecoder,
    challengeResponse,
    encodeText,
    keyNumber,
    makeKey,
)

#: The message limit given to decoders where the test needs no other.
LIMIT = 16 * 2**20

# draft-hixie-thewebsocketprotocol-76 section 1.3 (the opening handshake).
DRAFT_KEY1 = "4 @1  46546xW%0l 1 5"
DRAFT_KEY2 = "12998 5 Y3 1  .P00"
DRAFT_KEY3 = b"^n:ds[4U"
DRAFT_RESPONSE = b"8jKS'y:G*Co,Wxa-"

# The example of earlier drafts, copied by most Hixie-76 implementations.
# (Its Key2 ends in "7]o}` 0"; variants ending otherwise are misquotes whose
# digits are not a multiple of their spaces.)
OLD_KEY1 = "18x 6]8vM;54 *(5:  {   U1]8  z [  8"
OLD_KEY2 = "1_ tx7X d  <  nw  334J702) 7]o}` 0"
OLD_KEY3 = b"Tm[K T2u"
OLD_RESPONSE = b"fQJ,fN/4F4!~K~MH"

# draft 76 section 5.2's worked example of the server's steps.
STEPS_KEY1 = "3e6b263  4 17 80"
STEPS_KEY2 = "17  9 G`ZD9   2 2b 7X 3 /r90"
STEPS_KEY3 = b"WjN}|M(6"
STEPS_RESPONSE = b"n`9eBk9z$R8pOtVb"


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """
    Split C{data} at the given offsets (taken modulo its length, sorted).
    """
    if not data:
        return [data]
    points = sorted({cut % len(data) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points)]


def feedAll(decoder: HixieDecoder, pieces: list[bytes]) -> list[object]:
    events: list[object] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    return events


class KeyNumberTests(SynchronousTestCase):
    """
    L{keyNumber} divides a key's digits by its spaces, or refuses it.
    """

    def test_draftExamples(self) -> None:
        """
        The numbers of draft 76's examples: 4146546015 / 5 and 1299853100 /
        5 from section 1.3, 3626341780 / 4 and 1799227390 / 10 from 5.2.
        """
        self.assertEqual(keyNumber(DRAFT_KEY1), 829309203)
        self.assertEqual(keyNumber(DRAFT_KEY2), 259970620)
        self.assertEqual(keyNumber(STEPS_KEY1), 906585445)
        self.assertEqual(keyNumber(STEPS_KEY2), 179922739)

    def test_noSpaces(self) -> None:
        error = self.assertRaises(HandshakeError, keyNumber, "12345")
        self.assertEqual(error.status, 400)

    def test_noDigits(self) -> None:
        error = self.assertRaises(HandshakeError, keyNumber, "a b c")
        self.assertEqual(error.status, 400)

    def test_notAMultiple(self) -> None:
        """
        Digits that are not an integral multiple of the spaces are refused.
        """
        error = self.assertRaises(HandshakeError, keyNumber, "1 0 1")
        self.assertEqual(error.status, 400)
        self.assertIn("multiple", error.reason)

    def test_misquotedExample(self) -> None:
        """
        The misquoted Key2 (digits 3151764076, three spaces) is refused.
        """
        error = self.assertRaises(HandshakeError, keyNumber, "1_ tx7X d  <  nw  334J702) 4 2 0")
        self.assertEqual(error.status, 400)

    def test_largest(self) -> None:
        """
        Digits up to 4294967295 are accepted, one more is refused.
        """
        self.assertEqual(keyNumber("4294967295 "), 4294967295)
        self.assertEqual(keyNumber("000004294967295 "), 4294967295)
        error = self.assertRaises(HandshakeError, keyNumber, "4294967296 ")
        self.assertEqual(error.status, 400)

    def test_hugeDigitString(self) -> None:
        """
        Thousands of digits raise L{HandshakeError}, not Python's guard
        against converting long digit strings.
        """
        error = self.assertRaises(HandshakeError, keyNumber, "9" * 10000 + " ")
        self.assertEqual(error.status, 400)
        self.assertEqual(keyNumber("0" * 10000 + " "), 0)

    def test_onlyAsciiDigits(self) -> None:
        """
        Other Unicode digits (superscripts are ISO-8859-1) are not digits.
        """
        self.assertEqual(keyNumber("1\u00b2\u00b3 2"), 12)


class ChallengeResponseTests(SynchronousTestCase):
    """
    L{challengeResponse} answers the Hixie-76 challenge.
    """

    def test_draftExample(self) -> None:
        self.assertEqual(challengeResponse(DRAFT_KEY1, DRAFT_KEY2, DRAFT_KEY3), DRAFT_RESPONSE)

    def test_oldDraftExample(self) -> None:
        self.assertEqual(challengeResponse(OLD_KEY1, OLD_KEY2, OLD_KEY3), OLD_RESPONSE)

    def test_stepsExample(self) -> None:
        self.assertEqual(challengeResponse(STEPS_KEY1, STEPS_KEY2, STEPS_KEY3), STEPS_RESPONSE)

    def test_key3Length(self) -> None:
        """
        key3 must be exactly eight bytes.
        """
        for key3 in (b"", b"1234567", b"123456789"):
            self.assertRaises(ValueError, challengeResponse, DRAFT_KEY1, DRAFT_KEY2, key3)

    def test_badKey(self) -> None:
        error = self.assertRaises(
            HandshakeError, challengeResponse, "nospaces1", DRAFT_KEY2, DRAFT_KEY3
        )
        self.assertEqual(error.status, 400)


class ClientKeyTests(SynchronousTestCase):
    """
    L{makeKey} and L{Challenge} make a client's challenge as draft 76
    section 4.1 says.
    """

    @given(st.randoms(use_true_random=False))
    def test_makeKey(self, rng: random.Random) -> None:
        """
        1 to 12 spaces, none at either end; 1 to 12 characters from
        U+0021-U+002F and U+003A-U+007E; digits that are the number times the
        spaces, within 2**32 - 1; and L{keyNumber} reads the number back.
        """
        key = makeKey(rng)
        spaces = key.count(" ")
        digits = "".join(c for c in key if c.isdigit())
        noise = [c for c in key if not c.isdigit() and c != " "]
        self.assertTrue(1 <= spaces <= 12, key)
        self.assertFalse(key.startswith(" ") or key.endswith(" "), key)
        self.assertTrue(1 <= len(noise) <= 12, key)
        for c in noise:
            self.assertTrue(0x21 <= ord(c) <= 0x2F or 0x3A <= ord(c) <= 0x7E, key)
        self.assertLessEqual(int(digits), MAX_KEY_NUMBER)
        self.assertEqual(int(digits) % spaces, 0)
        self.assertEqual(keyNumber(key), int(digits) // spaces)
        self.assertEqual(str(int(digits)), digits)  # no padding zeros

    def test_keysVary(self) -> None:
        """
        Every part is drawn: across a few keys, every count of spaces and of
        noise characters turns up, and the numbers differ.
        """
        rng = random.Random(7)
        keys = [makeKey(rng) for _ in range(500)]
        self.assertEqual({key.count(" ") for key in keys}, set(range(1, 13)))
        noiseCounts = {sum(not c.isdigit() and c != " " for c in key) for key in keys}
        self.assertEqual(noiseCounts, set(range(1, 13)))
        self.assertEqual(len({keyNumber(key) for key in keys}), 500)

    def test_draftExample(self) -> None:
        challenge = Challenge(DRAFT_KEY1, DRAFT_KEY2, DRAFT_KEY3)
        self.assertEqual(challenge.answer, DRAFT_RESPONSE)
        self.assertEqual(len(challenge.answer), ANSWER_LENGTH)

    @given(st.randoms(use_true_random=False))
    def test_generate(self, rng: random.Random) -> None:
        """
        A generated challenge has a key3 of eight bytes, and its answer is
        what a server computes from the request.
        """
        challenge = Challenge.generate(rng)
        self.assertEqual(len(challenge.key3), KEY3_LENGTH)
        self.assertEqual(
            challenge.answer, challengeResponse(challenge.key1, challenge.key2, challenge.key3)
        )

    def test_systemRandom(self) -> None:
        first = Challenge.generate(random.SystemRandom())
        second = Challenge.generate(random.SystemRandom())
        self.assertNotEqual(first, second)


class EncodeTests(SynchronousTestCase):
    """
    L{encodeText} and L{CLOSE_FRAME} are the frames a server sends.
    """

    def test_text(self) -> None:
        self.assertEqual(encodeText("h\u00e9"), b"\x00h\xc3\xa9\xff")

    def test_empty(self) -> None:
        self.assertEqual(encodeText(""), b"\x00\xff")

    def test_close(self) -> None:
        self.assertEqual(CLOSE_FRAME, b"\xff\x00")


class DecoderTests(SynchronousTestCase):
    """
    L{HixieDecoder} turns frames into messages and the close.
    """

    def test_textFrame(self) -> None:
        self.assertEqual(HixieDecoder(maxMessageSize=LIMIT).feed(b"\x00hello\xff"), ["hello"])

    def test_emptyFrame(self) -> None:
        self.assertEqual(HixieDecoder(maxMessageSize=LIMIT).feed(b"\x00\xff"), [""])

    def test_manyFramesInOneRead(self) -> None:
        data = b"".join(encodeText(str(n)) for n in range(1000))
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        self.assertEqual(decoder.feed(data), [str(n) for n in range(1000)])

    def test_nothing(self) -> None:
        self.assertEqual(HixieDecoder(maxMessageSize=LIMIT).feed(b""), [])

    def test_everyChunkSize(self) -> None:
        """
        Any chunking of the same bytes yields the same messages.
        """
        data = encodeText("caf\u00e9 \U0001f600") + encodeText("") + encodeText("x")
        for size in range(1, len(data) + 1):
            pieces = [data[i : i + size] for i in range(0, len(data), size)]
            self.assertEqual(
                feedAll(HixieDecoder(maxMessageSize=LIMIT), pieces),
                ["caf\u00e9 \U0001f600", "", "x"],
                f"chunk size {size}",
            )

    def test_multibyteCharacterSplit(self) -> None:
        """
        A character split across reads is decoded whole.
        """
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        self.assertEqual(decoder.feed(b"\x00\xe2\x82"), [])
        self.assertEqual(decoder.feed(b"\xac\xff"), ["\u20ac"])

    def test_acceptsBytesLike(self) -> None:
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        self.assertEqual(decoder.feed(bytearray(b"\x00a\xff")), ["a"])
        self.assertEqual(decoder.feed(memoryview(b"\x00b\xff")), ["b"])

    def test_invalidUtf8(self) -> None:
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        error = self.assertRaises(ProtocolError, decoder.feed, b"\x00\xc3\x28\xff")
        self.assertEqual(error.code, 1007)

    def test_surrogateIsInvalid(self) -> None:
        """
        UTF-8 encoded surrogates are not UTF-8 (RFC 3629).
        """
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        error = self.assertRaises(ProtocolError, decoder.feed, b"\x00\xed\xa0\x80\xff")
        self.assertEqual(error.code, 1007)

    def test_invalidUtf8AcrossReads(self) -> None:
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        self.assertEqual(decoder.feed(b"\x00ok\xc3"), [])
        error = self.assertRaises(ProtocolError, decoder.feed, b"\x28\xff")
        self.assertEqual(error.code, 1007)

    def test_deadAfterError(self) -> None:
        """
        After an error every feed raises the same error, and the messages
        that came whole before the bad bytes ride on the first one.
        """
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        first = self.assertRaises(ProtocolError, decoder.feed, b"\x00ok\xff\x00\xfe\xff")
        second = self.assertRaises(ProtocolError, decoder.feed, b"\x00fine\xff")
        self.assertEqual(list(first.events), ["ok"])
        self.assertEqual((second.code, second.reason), (first.code, first.reason))
        self.assertEqual(list(second.events), [])


class CloseTests(SynchronousTestCase):
    """
    C{0xFF 0x00} closes; everything after it is ignored.
    """

    def test_close(self) -> None:
        self.assertEqual(HixieDecoder(maxMessageSize=LIMIT).feed(CLOSE_FRAME), [Close()])

    def test_closeHasNoCode(self) -> None:
        (close,) = HixieDecoder(maxMessageSize=LIMIT).feed(CLOSE_FRAME)
        self.assertIsNone(close.code)
        self.assertEqual(close.reason, "")

    def test_afterMessages(self) -> None:
        data = encodeText("a") + encodeText("b") + CLOSE_FRAME
        self.assertEqual(HixieDecoder(maxMessageSize=LIMIT).feed(data), ["a", "b", Close()])

    def test_trailingGarbage(self) -> None:
        """
        Bytes after the close, valid or not, are ignored, now and later.
        """
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        data = encodeText("a") + CLOSE_FRAME + b"\x00\xc3\x28\xff" + encodeText("b")
        self.assertEqual(decoder.feed(data), ["a", Close()])
        self.assertEqual(decoder.feed(b"\x00\xfe\xff\x81"), [])
        self.assertEqual(decoder.feed(encodeText("c")), [])

    def test_split(self) -> None:
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        self.assertEqual(decoder.feed(b"\xff"), [])
        self.assertEqual(decoder.feed(b"\x00garbage"), [Close()])

    def test_longFormZeroLength(self) -> None:
        """
        Type C{0xFF} with a zero length spelled in two bytes also closes.
        """
        self.assertEqual(HixieDecoder(maxMessageSize=LIMIT).feed(b"\xff\x80\x00"), [Close()])

    def test_otherZeroLengthFrame(self) -> None:
        """
        Another high type with length 0 is an empty frame, discarded.
        """
        self.assertEqual(HixieDecoder(maxMessageSize=LIMIT).feed(b"\x80\x00\x00a\xff"), ["a"])


class DiscardTests(SynchronousTestCase):
    """
    Frames other than text and close are read and discarded.
    """

    def test_lengthPrefixed(self) -> None:
        data = b"\x80\x03abc" + encodeText("kept")
        self.assertEqual(HixieDecoder(maxMessageSize=LIMIT).feed(data), ["kept"])

    def test_lengthBodyMayHoldSentinels(self) -> None:
        """
        The body of a length-prefixed frame is skipped by count, so C{0x00}
        and C{0xFF} inside it mean nothing.
        """
        data = b"\x81\x04\x00\xff\xff\x00" + encodeText("kept")
        self.assertEqual(HixieDecoder(maxMessageSize=LIMIT).feed(data), ["kept"])

    def test_multiByteLength(self) -> None:
        """
        C{0x81 0x00} is 128 (big-endian groups of seven bits).
        """
        data = b"\x82\x81\x00" + b"\xff" * 128 + encodeText("kept")
        self.assertEqual(HixieDecoder(maxMessageSize=LIMIT).feed(data), ["kept"])

    def test_lengthPrefixedEveryChunkSize(self) -> None:
        data = encodeText("a") + b"\x82\x81\x00" + b"\x00" * 128 + encodeText("b")
        for size in range(1, len(data) + 1):
            pieces = [data[i : i + size] for i in range(0, len(data), size)]
            decoder = HixieDecoder(maxMessageSize=LIMIT)
            self.assertEqual(feedAll(decoder, pieces), ["a", "b"], f"size {size}")

    def test_otherSentinelTypes(self) -> None:
        """
        Types C{0x01}-C{0x7F} run to the next C{0xFF} and are discarded.
        """
        data = b"\x01junk\xff\x7f\xff" + encodeText("kept") + b"\x42more"
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        self.assertEqual(decoder.feed(data), ["kept"])
        self.assertEqual(decoder.feed(b" junk\xff" + encodeText("next")), ["next"])


class LimitTests(SynchronousTestCase):
    """
    Nothing larger than C{maxMessageSize} is buffered.
    """

    def test_atLimit(self) -> None:
        decoder = HixieDecoder(maxMessageSize=4)
        self.assertEqual(decoder.feed(encodeText("abcd")), ["abcd"])

    def test_overLimitInOneRead(self) -> None:
        decoder = HixieDecoder(maxMessageSize=4)
        error = self.assertRaises(ProtocolError, decoder.feed, encodeText("abcde"))
        self.assertEqual(error.code, 1009)

    def test_overLimitBeforeEnd(self) -> None:
        """
        The limit is enforced while buffering, before the C{0xFF} arrives.
        """
        decoder = HixieDecoder(maxMessageSize=4)
        self.assertEqual(decoder.feed(b"\x00ab"), [])
        self.assertEqual(decoder.feed(b"cd"), [])
        error = self.assertRaises(ProtocolError, decoder.feed, b"e")
        self.assertEqual(error.code, 1009)

    def test_overLimitUnterminatedFirstRead(self) -> None:
        decoder = HixieDecoder(maxMessageSize=4)
        error = self.assertRaises(ProtocolError, decoder.feed, b"\x00abcde")
        self.assertEqual(error.code, 1009)

    def test_lengthPrefixedOverLimit(self) -> None:
        """
        A length-prefixed frame claiming more than the limit fails as soon
        as its length says so.
        """
        decoder = HixieDecoder(maxMessageSize=100)
        self.assertEqual(decoder.feed(b"\x80\x64" + b"x" * 100), [])
        error = self.assertRaises(ProtocolError, decoder.feed, b"\x80\x81")
        self.assertEqual(error.code, 1009)

    def test_endlessLength(self) -> None:
        """
        A length of endless zero groups is bounded too.
        """
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        error = self.assertRaises(ProtocolError, decoder.feed, b"\x80" * 100)
        self.assertEqual(error.code, 1002)

    def test_limitAppliesToEachMessage(self) -> None:
        decoder = HixieDecoder(maxMessageSize=4)
        data = encodeText("abcd") * 10
        self.assertEqual(decoder.feed(data), ["abcd"] * 10)


class PropertyTests(SynchronousTestCase):
    """
    Properties over generated input.
    """

    @given(st.lists(st.text()), st.lists(st.integers(min_value=0)))
    def test_roundTrip(self, messages: list[str], cuts: list[int]) -> None:
        """
        Any messages, encoded, concatenated and split anywhere, decode to
        themselves.
        """
        data = b"".join(encodeText(message) for message in messages)
        self.assertEqual(feedAll(HixieDecoder(maxMessageSize=LIMIT), chunked(data, cuts)), messages)

    @given(st.lists(st.text()), st.binary(), st.lists(st.integers(min_value=0)))
    def test_closeEndsStream(self, messages: list[str], garbage: bytes, cuts: list[int]) -> None:
        """
        Messages then a close then anything: the messages and one close.
        """
        data = b"".join(encodeText(m) for m in messages) + CLOSE_FRAME + garbage
        decoder = HixieDecoder(maxMessageSize=LIMIT)
        self.assertEqual(feedAll(decoder, chunked(data, cuts)), [*messages, Close()])

    @given(st.lists(st.binary()), st.integers(min_value=0, max_value=64))
    def test_onlyProtocolErrors(self, pieces: list[bytes], limit: int) -> None:
        """
        Random bytes raise nothing but L{ProtocolError}, and every message
        respects the limit.
        """
        decoder = HixieDecoder(maxMessageSize=limit)
        for piece in pieces:
            try:
                events = decoder.feed(piece)
            except ProtocolError:
                return
            for event in events:
                if isinstance(event, str):
                    self.assertLessEqual(len(event.encode("utf-8")), limit)
