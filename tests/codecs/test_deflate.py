"""
Tests for L{ratchet_tx.websocket.codecs.deflate}: permessage-deflate
(RFC 7692), alone and inside the RFC 6455 frame decoder.
"""

from __future__ import annotations

import random
import tracemalloc
import zlib
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame
from websockets.frames import Opcode as WsOpcode
from websockets.headers import build_extension, parse_extension
from websockets.streams import StreamReader

from ratchet_tx.websocket.codecs.deflate import (
    DEFAULT_COMPRESS_LEVEL,
    DEFAULT_MEM_LEVEL,
    DEFAULT_MIN_SIZE,
    DeflatePolicy,
    PerMessageDeflate,
    acceptResponse,
    deflatedSizeBound,
    negotiate,
    parseElement,
    parseExtensions,
    renderOffer,
)
from ratchet_tx.websocket.codecs.errors import InvalidHandshakeResponse, ProtocolError
from ratchet_tx.websocket.codecs.events import Event, Ping
from ratchet_tx.websocket.codecs.hybi import (
    MAX_PAYLOAD_NORMAL,
    RSV1,
    FrameDecoder,
    Opcode,
    encodeFrame,
    encodeMessage,
)

#: The message limit given to decoders where the test needs no other.
LIMIT = 16 * 2**20

INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009

KEY = b"\x37\xfa\x21\x3d"
TAIL = b"\x00\x00\xff\xff"


def peerOf(deflate: PerMessageDeflate) -> PerMessageDeflate:
    """
    The other end's view of the same agreement: what one sends, the other
    receives.
    """
    return PerMessageDeflate(
        sendWindowBits=deflate.receiveWindowBits,
        sendNoContextTakeover=deflate.receiveNoContextTakeover,
        receiveWindowBits=deflate.sendWindowBits,
        receiveNoContextTakeover=deflate.sendNoContextTakeover,
        minSize=0,
    )


def agree(header: str, policy: DeflatePolicy | None = None) -> str | None:
    """
    The response to an offer header under C{policy} (the default one).
    """
    agreed = negotiate(parseExtensions([header]), policy or DeflatePolicy())
    return None if agreed is None else agreed[0]


def rawDeflate(payload: bytes, wbits: int = 15, level: int = 6, **kwargs: Any) -> bytes:
    """
    C{payload} compressed by plain zlib as RFC 7692 section 7.2.1 says.
    """
    compressor = zlib.compressobj(level, zlib.DEFLATED, -wbits, **kwargs)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(TAIL)
    return data[:-4]


def compressedMessage(
    payload: bytes,
    opcode: int = Opcode.TEXT,
    cuts: tuple[int, ...] = (),
    mask: bytes | None = KEY,
) -> bytes:
    """
    The frames of a message whose compressed payload is C{payload}, cut at
    C{cuts} into fragments, the first with RSV1.
    """
    bounds = [0, *cuts, len(payload)]
    frames = []
    for index, (start, stop) in enumerate(pairwise(bounds)):
        frames.append(
            encodeFrame(
                opcode if index == 0 else Opcode.CONTINUATION,
                payload[start:stop],
                fin=index == len(bounds) - 2,
                rsv=RSV1 if index == 0 else 0,
                mask=mask,
            )
        )
    return b"".join(frames)


class ParseExtensionsTests(SynchronousTestCase):
    """
    L{parseExtensions} reads the grammar of RFC 6455 section 9.1 and leaves
    out what breaks it.
    """

    def test_offers(self) -> None:
        header = (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
            "permessage-deflate; client_max_window_bits"
        )
        self.assertEqual(
            parseExtensions([header]),
            [
                (
                    "permessage-deflate",
                    {"client_max_window_bits": None, "server_max_window_bits": "10"},
                ),
                ("permessage-deflate", {"client_max_window_bits": None}),
            ],
        )

    def test_severalValues(self) -> None:
        """
        Each value, or each element as L{Opening.extensions} holds them,
        contributes its offers in order.
        """
        self.assertEqual(
            parseExtensions(["foo, bar; a=1", "permessage-deflate"]),
            [("foo", {}), ("bar", {"a": "1"}), ("permessage-deflate", {})],
        )

    def test_whitespaceAndCase(self) -> None:
        self.assertEqual(
            parseExtensions(["  Permessage-Deflate ;\tServer_Max_Window_Bits = 12 ;x  "]),
            [("permessage-deflate", {"server_max_window_bits": "12", "x": None})],
        )

    def test_quotedValues(self) -> None:
        """
        A quoted value is unescaped, and kept only if it is then a token.
        """
        self.assertEqual(
            parseExtensions(['e; a="10"; b="x\\y"']),
            [("e", {"a": "10", "b": "xy"})],
        )
        self.assertEqual(parseExtensions(['e; a="1,0"', 'e; a="x y"', 'e; a=""']), [])

    def test_commaInQuotesDoesNotSplit(self) -> None:
        self.assertEqual(parseExtensions(['e; a="1,2", f']), [("f", {})])

    def test_malformedLeftOut(self) -> None:
        """
        Elements that break the grammar are left out; the others stay.
        """
        for bad in [
            "e;",
            "e; ;a",
            "e; =1",
            "e; a=",
            "e; a==1",
            "e a",
            "e; a b",
            "e; a=1 2",
            'e; a="1',
            "e; a=1=2",
            "e@x",
            "e; a=[1]",
            ";a",
            "e; a; A",
            "e; a=1; a=2",
        ]:
            self.assertEqual(parseExtensions([bad, "ok"]), [("ok", {})], bad)

    def test_empty(self) -> None:
        self.assertEqual(parseExtensions([]), [])
        self.assertEqual(parseExtensions(["", " , ,"]), [])


class PolicyTests(SynchronousTestCase):
    """
    L{DeflatePolicy} and L{PerMessageDeflate} refuse settings zlib or
    RFC 7692 cannot honour.
    """

    def test_defaults(self) -> None:
        policy = DeflatePolicy()
        self.assertTrue(policy.enabled)
        self.assertEqual(
            (policy.serverMaxWindowBits, policy.clientMaxWindowBits, policy.memLevel),
            (15, 15, DEFAULT_MEM_LEVEL),
        )
        self.assertEqual(
            (policy.minSize, policy.compressLevel), (DEFAULT_MIN_SIZE, DEFAULT_COMPRESS_LEVEL)
        )

    def test_ranges(self) -> None:
        DeflatePolicy(serverMaxWindowBits=8, clientMaxWindowBits=9, memLevel=1, compressLevel=0)
        DeflatePolicy(serverMaxWindowBits=15, clientMaxWindowBits=15, memLevel=9, compressLevel=9)
        for bad in [
            {"serverMaxWindowBits": 7},
            {"serverMaxWindowBits": 16},
            {"clientMaxWindowBits": 8},
            {"clientMaxWindowBits": 16},
            {"serverMaxWindowBits": 12.0},
            {"memLevel": 0},
            {"memLevel": 10},
            {"compressLevel": -2},
            {"compressLevel": 10},
            {"minSize": -1},
        ]:
            self.assertRaises(ValueError, DeflatePolicy, **bad)

    def test_perMessageDeflateRanges(self) -> None:
        for bad in [
            {"sendWindowBits": 7},
            {"receiveWindowBits": 16},
            {"memLevel": 0},
            {"compressLevel": 10},
            {"minSize": -1},
        ]:
            self.assertRaises(ValueError, PerMessageDeflate, **bad)

    def test_frozen(self) -> None:
        policy = DeflatePolicy()
        self.assertRaises(AttributeError, setattr, policy, "enabled", False)


class NegotiationTests(SynchronousTestCase):
    """
    L{negotiate} answers offers as RFC 7692 sections 5 and 7.1 say.
    """

    def assertAgrees(
        self,
        table: list[tuple[str, str | None]],
        policy: DeflatePolicy | None = None,
    ) -> None:
        for offer, response in table:
            self.assertEqual(agree(offer, policy), response, offer)

    def test_defaultPolicy(self) -> None:
        self.assertAgrees(
            [
                ("permessage-deflate", "permessage-deflate"),
                # What browsers offer.
                ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
                (
                    "permessage-deflate; server_no_context_takeover",
                    "permessage-deflate; server_no_context_takeover",
                ),
                (
                    "permessage-deflate; client_no_context_takeover",
                    "permessage-deflate; client_no_context_takeover",
                ),
                (
                    "permessage-deflate; server_max_window_bits=10",
                    "permessage-deflate; server_max_window_bits=10",
                ),
                (
                    "permessage-deflate; client_max_window_bits=12",
                    "permessage-deflate; client_max_window_bits=12",
                ),
                ("permessage-deflate; client_max_window_bits=15", "permessage-deflate"),
                (
                    "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
                    "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
                ),
                (
                    'permessage-deflate; server_max_window_bits="9"',
                    "permessage-deflate; server_max_window_bits=9",
                ),
                (
                    "permessage-deflate; client_max_window_bits; server_no_context_takeover; "
                    "client_no_context_takeover; server_max_window_bits=11",
                    "permessage-deflate; server_no_context_takeover; "
                    "client_no_context_takeover; server_max_window_bits=11",
                ),
            ]
        )

    def test_rfcSection5Example(self) -> None:
        """
        RFC 7692 section 5: of two offers, the first acceptable one wins.
        """
        offer = (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
            "permessage-deflate; client_max_window_bits"
        )
        self.assertEqual(agree(offer), "permessage-deflate; server_max_window_bits=10")

    def test_declined(self) -> None:
        """
        RFC 7692 section 7.1: an offer with an unknown or repeated
        parameter or an invalid value is declined.
        """
        for offer in [
            "permessage-deflate; unknown",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=true",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits=+9",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; client_max_window_bits=ten",
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            "permessage-deflate; client_max_window_bits; client_max_window_bits",
            "permessage-deflate;",
            "x-webkit-deflate-frame",
            "deflate-frame",
        ]:
            self.assertIsNone(agree(offer), offer)
            self.assertEqual(
                agree(f"{offer}, permessage-deflate; server_max_window_bits=12"),
                "permessage-deflate; server_max_window_bits=12",
                offer,
            )

    def test_otherExtensionsSkipped(self) -> None:
        self.assertEqual(
            agree("x-webkit-deflate-frame, foo; permessage-deflate, permessage-deflate"),
            "permessage-deflate",
        )

    def test_disabled(self) -> None:
        self.assertIsNone(agree("permessage-deflate", DeflatePolicy(enabled=False)))

    def test_noOffer(self) -> None:
        self.assertIsNone(negotiate([], DeflatePolicy()))

    def test_policyServerNoContextTakeover(self) -> None:
        self.assertAgrees(
            [
                ("permessage-deflate", "permessage-deflate; server_no_context_takeover"),
                (
                    "permessage-deflate; server_no_context_takeover",
                    "permessage-deflate; server_no_context_takeover",
                ),
            ],
            DeflatePolicy(serverNoContextTakeover=True),
        )

    def test_policyClientNoContextTakeover(self) -> None:
        """
        The server may require the client to drop its context even if the
        client did not offer to.
        """
        self.assertAgrees(
            [("permessage-deflate", "permessage-deflate; client_no_context_takeover")],
            DeflatePolicy(clientNoContextTakeover=True),
        )

    def test_policyServerWindow(self) -> None:
        """
        A smaller server window is announced even unasked, and an offered
        one is honoured up to the policy's.
        """
        self.assertAgrees(
            [
                ("permessage-deflate", "permessage-deflate; server_max_window_bits=11"),
                (
                    "permessage-deflate; server_max_window_bits=13",
                    "permessage-deflate; server_max_window_bits=11",
                ),
                (
                    "permessage-deflate; server_max_window_bits=9",
                    "permessage-deflate; server_max_window_bits=9",
                ),
            ],
            DeflatePolicy(serverMaxWindowBits=11),
        )

    def test_policyClientWindow(self) -> None:
        """
        A smaller client window can only be asked of a client that offered
        C{client_max_window_bits}; other offers are declined.
        """
        self.assertAgrees(
            [
                ("permessage-deflate", None),
                ("permessage-deflate; server_max_window_bits=12", None),
                (
                    "permessage-deflate; client_max_window_bits",
                    "permessage-deflate; client_max_window_bits=10",
                ),
                (
                    "permessage-deflate; client_max_window_bits=14",
                    "permessage-deflate; client_max_window_bits=10",
                ),
                (
                    "permessage-deflate; client_max_window_bits=9",
                    "permessage-deflate; client_max_window_bits=9",
                ),
                (
                    "permessage-deflate, permessage-deflate; client_max_window_bits",
                    "permessage-deflate; client_max_window_bits=10",
                ),
            ],
            DeflatePolicy(clientMaxWindowBits=10),
        )

    def test_agreement(self) -> None:
        """
        The L{PerMessageDeflate} returned is configured as answered: the
        server's parameters for what it sends, the client's for what it
        receives, and the policy's zlib settings.
        """
        policy = DeflatePolicy(minSize=7, memLevel=5, compressLevel=4)
        offers = parseExtensions(
            [
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=11; "
                "server_max_window_bits=12"
            ]
        )
        agreed = negotiate(offers, policy)
        assert agreed is not None
        deflate = agreed[1]
        self.assertEqual(
            (
                deflate.sendWindowBits,
                deflate.sendNoContextTakeover,
                deflate.receiveWindowBits,
                deflate.receiveNoContextTakeover,
            ),
            (12, True, 11, False),
        )
        self.assertEqual((deflate.minSize, deflate.memLevel, deflate.compressLevel), (7, 5, 4))

        agreed = negotiate(parseExtensions(["permessage-deflate"]), DeflatePolicy())
        assert agreed is not None
        deflate = agreed[1]
        self.assertEqual(
            (
                deflate.sendWindowBits,
                deflate.sendNoContextTakeover,
                deflate.receiveWindowBits,
                deflate.receiveNoContextTakeover,
            ),
            (15, False, 15, False),
        )


class DeflateDecoderTestCase(SynchronousTestCase):
    """
    Assertions about a L{FrameDecoder} with permessage-deflate.
    """

    def assertInflates(
        self,
        data: bytes,
        expected: list[Event],
        makeDeflate: Callable[[], PerMessageDeflate] = PerMessageDeflate,
        **decoderArgs: Any,
    ) -> None:
        """
        A new decoder with a new L{PerMessageDeflate} turns C{data} into
        C{expected}, in one read, byte by byte, and in a few other sizes.
        """
        for size in sorted({1, 2, 3, 5, 7, 13, len(data) // 2 or 1, len(data) or 1}):
            decoder = FrameDecoder(
                deflate=makeDeflate(), **{"maxMessageSize": LIMIT, **decoderArgs}
            )
            events: list[Event] = []
            for start in range(0, len(data), size):
                events += decoder.feed(data[start : start + size])
            self.assertEqual(events, expected, f"fed {size} bytes at a time")

    def assertFails(
        self, data: bytes, code: int, deflate: PerMessageDeflate | None = None, **decoderArgs: Any
    ) -> ProtocolError:
        """
        A decoder with C{deflate} (a new one by default) fails with C{code}
        on C{data}.
        """
        decoder = FrameDecoder(
            deflate=deflate or PerMessageDeflate(), **{"maxMessageSize": LIMIT, **decoderArgs}
        )
        with self.assertRaises(ProtocolError) as caught:
            decoder.feed(data)
        self.assertEqual(caught.exception.code, code, caught.exception.reason)
        return caught.exception


class RFCExampleTests(DeflateDecoderTestCase):
    """
    The examples of RFC 7692 section 7.2.3, byte for byte.
    """

    def test_oneCompressedBlock(self) -> None:
        """
        Section 7.2.3.1: "Hello" in one frame, and in two fragments.
        """
        frame = bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        self.assertEqual(encodeMessage("Hello", PerMessageDeflate(minSize=0)), frame)
        self.assertInflates(frame, ["Hello"], expectMasked=False)
        fragments = bytes([0x41, 0x03, 0xF2, 0x48, 0xCD, 0x80, 0x04, 0xC9, 0xC9, 0x07, 0x00])
        self.assertInflates(fragments, ["Hello"], expectMasked=False)

    def test_sharingTheWindow(self) -> None:
        """
        Section 7.2.3.2: the second "Hello" refers to the first one.
        """
        first = bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        second = bytes([0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00])
        deflate = PerMessageDeflate(minSize=0)
        self.assertEqual(encodeMessage("Hello", deflate), first)
        self.assertEqual(encodeMessage("Hello", deflate), second)
        self.assertInflates(first + second, ["Hello", "Hello"], expectMasked=False)

    def test_noContextTakeoverRepeats(self) -> None:
        """
        Without context takeover, each "Hello" is compressed alone.
        """
        first = bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        deflate = PerMessageDeflate(minSize=0, sendNoContextTakeover=True)
        self.assertEqual(encodeMessage("Hello", deflate), first)
        self.assertEqual(encodeMessage("Hello", deflate), first)

    def test_noCompressionBlock(self) -> None:
        """
        Section 7.2.3.3: a stored block.
        """
        frame = bytes.fromhex("c10b 0005 00fa ff48 656c 6c6f 00")
        self.assertInflates(frame, ["Hello"], expectMasked=False)

    def test_bfinalBlock(self) -> None:
        """
        Section 7.2.3.4: a block with BFINAL set, followed by the first byte
        of an empty stored block.  The next message starts a new stream.
        """
        frame = bytes.fromhex("c108 f348 cdc9 c907 0000")
        self.assertInflates(frame + frame, ["Hello", "Hello"], expectMasked=False)

    def test_twoBlocks(self) -> None:
        """
        Section 7.2.3.5: two DEFLATE blocks in one message.
        """
        frame = bytes.fromhex("c10d f248 0500 0000 ffff cac9 c907 00")
        self.assertInflates(frame, ["Hello"], expectMasked=False)

    def test_emptyMessage(self) -> None:
        """
        An empty message compresses to a single 0x00 byte; an empty payload
        with RSV1 is an empty message too.
        """
        self.assertEqual(PerMessageDeflate().compress(b""), b"\x00")
        self.assertEqual(encodeMessage(b"", PerMessageDeflate(minSize=0)), b"\xc2\x01\x00")
        self.assertInflates(b"\xc2\x01\x00" + b"\xc1\x00", [b"", ""], expectMasked=False)

    def test_masked(self) -> None:
        """
        The same payloads from a client, masked and cut at every byte.
        """
        payload = bytes([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        for cut in range(len(payload) + 1):
            self.assertInflates(compressedMessage(payload, cuts=(cut,)), ["Hello"])


class DecoderTests(DeflateDecoderTestCase):
    """
    Compressed and uncompressed messages through one decoder.
    """

    def test_mixed(self) -> None:
        """
        With permessage-deflate agreed, a peer may still send any message
        uncompressed, and control frames may come between fragments.
        """
        sender = PerMessageDeflate(minSize=0)
        text = "κόσμε " * 50
        compressed = sender.compress(text.encode())
        data = (
            encodeFrame(Opcode.TEXT, b"plain", mask=KEY)
            + encodeFrame(Opcode.TEXT, compressed[:10], fin=False, rsv=RSV1, mask=KEY)
            + encodeFrame(Opcode.PING, b"p", mask=KEY)
            + encodeFrame(Opcode.CONTINUATION, compressed[10:], mask=KEY)
            + encodeFrame(Opcode.BINARY, b"x", fin=False, mask=KEY)
            + encodeFrame(Opcode.CONTINUATION, b"y", mask=KEY)
            + compressedMessage(sender.compress(b"\x00\xff" * 300), Opcode.BINARY)
        )
        self.assertInflates(data, ["plain", Ping(b"p"), text, b"xy", b"\x00\xff" * 300])

    def test_contextTakeover(self) -> None:
        """
        Messages that refer to earlier ones inflate with the kept window.
        """
        sender = PerMessageDeflate(minSize=0)
        messages = [b"repeated message %d " % (index % 3) * 20 for index in range(10)]
        data = b"".join(
            compressedMessage(sender.compress(m), Opcode.BINARY, cuts=(3,)) for m in messages
        )
        self.assertLess(len(data), sum(map(len, messages)) // 10)
        self.assertInflates(data, messages)

    def test_receiveNoContextTakeoverFreesDecompressor(self) -> None:
        """
        When the peer compresses each message alone, nothing is kept between
        messages; otherwise the decompressor stays.
        """
        for noContext in (True, False):
            sender = PerMessageDeflate(minSize=0, sendNoContextTakeover=noContext)
            receiver = PerMessageDeflate(receiveNoContextTakeover=noContext)
            decoder = FrameDecoder(maxMessageSize=LIMIT, deflate=receiver)
            frame = compressedMessage(sender.compress(b"abc" * 100), Opcode.BINARY)
            self.assertEqual(decoder.feed(frame[:-1]), [])
            self.assertIsNotNone(receiver._decompressor)
            self.assertEqual(decoder.feed(frame[-1:]), [b"abc" * 100])
            self.assertEqual(receiver._decompressor is None, noContext)

    def test_sendNoContextTakeoverFreesCompressor(self) -> None:
        for noContext in (True, False):
            deflate = PerMessageDeflate(sendNoContextTakeover=noContext)
            self.assertIsNone(deflate._compressor)
            deflate.compress(b"abc")
            self.assertEqual(deflate._compressor is None, noContext)

    def test_lazy(self) -> None:
        """
        Nothing is allocated before the first compressed message.
        """
        deflate = PerMessageDeflate()
        decoder = FrameDecoder(maxMessageSize=LIMIT, deflate=deflate)
        self.assertEqual(decoder.feed(encodeFrame(Opcode.TEXT, b"x" * 100, mask=KEY)), ["x" * 100])
        self.assertEqual(encodeMessage("short", deflate), b"\x81\x05short")
        self.assertIsNone(deflate._compressor)
        self.assertIsNone(deflate._decompressor)

    def test_minSize(self) -> None:
        """
        Messages under C{minSize} bytes (of UTF-8 for text) go uncompressed.
        """
        deflate = PerMessageDeflate(minSize=4)
        self.assertEqual(encodeMessage("é", deflate), b"\x81\x02\xc3\xa9")
        self.assertEqual(encodeMessage(b"abc", deflate), b"\x82\x03abc")
        self.assertEqual(encodeMessage("éé", deflate)[0], 0xC1)
        self.assertEqual(encodeMessage(b"abcd", deflate)[0], 0xC2)

    def test_encodeLengths(self) -> None:
        """
        Compressed payloads get the right length encoding.
        """
        for size in (100, 10_000, 300_000):
            payload = bytes(index * 7919 % 251 for index in range(size))
            frame = encodeMessage(payload, PerMessageDeflate(compressLevel=0))
            decoder = FrameDecoder(
                maxMessageSize=LIMIT, expectMasked=False, deflate=PerMessageDeflate()
            )
            events = decoder.feed(frame)
            self.assertEqual(events, [payload])


class ErrorTests(DeflateDecoderTestCase):
    """
    Bad compressed messages fail the connection with the right code.
    """

    def test_corrupt(self) -> None:
        """
        Data that is not DEFLATE fails with 1007.
        """
        for payload in [b"\xff\xff\xff", b"\x07", b"\x00\x01\x00\x00\x00"]:
            self.assertFails(compressedMessage(payload), INVALID_PAYLOAD)

    def test_distanceTooFarBack(self) -> None:
        """
        A reference to an earlier message beyond the agreed window fails
        with 1007.  (Within one read, zlib lets a reference reach anywhere
        in what that read inflated.)
        """
        block = random.Random(0).randbytes(1024)
        sender = PerMessageDeflate(sendWindowBits=15, minSize=0)
        first = compressedMessage(sender.compress(block), Opcode.BINARY)
        second = compressedMessage(sender.compress(block), Opcode.BINARY)
        self.assertLess(len(second), 100)
        decoder = FrameDecoder(maxMessageSize=LIMIT, deflate=PerMessageDeflate(receiveWindowBits=9))
        self.assertEqual(decoder.feed(first), [block])
        with self.assertRaises(ProtocolError) as caught:
            decoder.feed(second)
        self.assertEqual(caught.exception.code, INVALID_PAYLOAD)

    def test_dataAfterFinalBlock(self) -> None:
        """
        After a block with BFINAL set, only the empty stored block of
        RFC 7692 section 7.2.1 may follow.
        """
        final = bytes.fromhex("f348cdc9c90700")
        for trailer in [b"\x00", b""]:
            self.assertInflates(compressedMessage(final + trailer, cuts=(7,)), ["Hello"])
        for trailer in [b"\x01", b"\x00\x00", b"\x00" * 50, rawDeflate(b"more")]:
            self.assertFails(compressedMessage(final + trailer, cuts=(7,)), INVALID_PAYLOAD)
            self.assertFails(compressedMessage(final + trailer), INVALID_PAYLOAD)

    def test_invalidUtf8(self) -> None:
        """
        Inflated text is validated, failing as soon as it is invalid: here
        in the first fragment, before the rest of the message arrives.
        """
        payload = "κόσμε".encode() + b"\xf4\x90\x80\x80" + b"valid text" * 100
        compressed = PerMessageDeflate().compress(payload)
        first = compressedMessage(compressed, cuts=(len(compressed) // 2,))
        self.assertFails(first[: len(first) // 2], INVALID_PAYLOAD)

    def test_truncatedUtf8(self) -> None:
        compressed = PerMessageDeflate().compress(b"ok\xce")
        self.assertFails(compressedMessage(compressed), INVALID_PAYLOAD)


class SizeLimitTests(DeflateDecoderTestCase):
    """
    The message limit applies to the inflated size, as it inflates.
    """

    def test_exactLimit(self) -> None:
        payload = b"a" * 1000
        frame = compressedMessage(PerMessageDeflate().compress(payload), Opcode.BINARY)
        self.assertInflates(frame, [payload], maxMessageSize=1000)
        self.assertFails(frame, MESSAGE_TOO_BIG, maxMessageSize=999)

    def test_acrossFragments(self) -> None:
        """
        Fragments that each inflate within the limit fail when together
        they do not.
        """
        compressed = PerMessageDeflate().compress(b"a" * 1000)
        data = compressedMessage(compressed, Opcode.BINARY, cuts=(2, 4, 6))
        self.assertInflates(data, [b"a" * 1000], maxMessageSize=1000)
        self.assertFails(data, MESSAGE_TOO_BIG, maxMessageSize=999)

    def test_wireSizeNotCounted(self) -> None:
        """
        A compressed message longer on the wire than the limit (stored
        blocks add a few bytes) is accepted if it inflates within it; each
        frame is still held to the frame limit, plus what deflating adds to
        data that does not compress (L{deflatedSizeBound}).
        """
        payload = bytes(range(100))
        compressed = rawDeflate(payload, level=0)
        self.assertGreater(len(compressed), 100)
        data = compressedMessage(compressed, Opcode.BINARY, cuts=(60,))
        self.assertInflates(data, [payload], maxMessageSize=100)
        self.assertInflates(
            compressedMessage(compressed, Opcode.BINARY), [payload], maxMessageSize=100
        )
        self.assertLess(deflatedSizeBound(40), len(compressed))
        self.assertFails(
            compressedMessage(compressed, Opcode.BINARY), 1009, maxMessageSize=100, maxFrameSize=40
        )

    def test_zipBomb(self) -> None:
        """
        A small frame that inflates to 32 MiB fails with 1009 once the limit
        is passed, without inflating much more than the limit.
        """
        limit = 2**20
        bomb = rawDeflate(bytes(32 * 2**20), level=9)
        self.assertLess(len(bomb), 64 * 1024)
        frame = compressedMessage(bomb, Opcode.BINARY)
        decoder = FrameDecoder(deflate=PerMessageDeflate(), maxMessageSize=limit)
        tracemalloc.start()
        try:
            with self.assertRaises(ProtocolError) as caught:
                decoder.feed(frame)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertEqual(caught.exception.code, MESSAGE_TOO_BIG)
        self.assertLess(peak, 3 * limit)

    def test_zipBombDirect(self) -> None:
        """
        L{PerMessageDeflate.decompress} returns at most C{limit} bytes, a
        limit of 0 included.
        """
        bomb = rawDeflate(bytes(2**20))
        for limit in (0, 1, 1000):
            with self.assertRaises(ProtocolError) as caught:
                PerMessageDeflate().decompress(bomb, True, limit)
            self.assertEqual(caught.exception.code, MESSAGE_TOO_BIG)
        self.assertEqual(PerMessageDeflate().decompress(bomb, True, 2**20), bytes(2**20))


class SharedCompressionTests(SynchronousTestCase):
    """
    Without context takeover, one compressed frame serves every receiver
    with the same parameters.
    """

    def test_sharedKey(self) -> None:
        self.assertIsNone(PerMessageDeflate().sharedKey)
        one = PerMessageDeflate(sendNoContextTakeover=True, receiveWindowBits=9)
        other = PerMessageDeflate(sendNoContextTakeover=True, receiveNoContextTakeover=True)
        self.assertIsNotNone(one.sharedKey)
        self.assertEqual(one.sharedKey, other.sharedKey)
        for different in [
            {"sendWindowBits": 10},
            {"compressLevel": 9},
            {"memLevel": 2},
            {"minSize": 0},
        ]:
            changed = PerMessageDeflate(sendNoContextTakeover=True, **different)
            self.assertNotEqual(changed.sharedKey, one.sharedKey, different)

    def test_eightBitsSharesWithNine(self) -> None:
        """
        An 8-bit window is served by zlib's 9-bit one: the same frames.
        """
        eight = PerMessageDeflate(sendNoContextTakeover=True, sendWindowBits=8)
        nine = PerMessageDeflate(sendNoContextTakeover=True, sendWindowBits=9)
        self.assertEqual(eight.sharedKey, nine.sharedKey)

    def test_sharedFrame(self) -> None:
        """
        A frame compressed with one connection's deflate inflates on every
        receiver with the same key, whatever each has received before.
        """
        sender = PerMessageDeflate(sendNoContextTakeover=True)
        message = "shared broadcast " * 20
        frame = encodeMessage(message, sender)
        for history in (0, 1, 5):
            receiver = PerMessageDeflate(receiveNoContextTakeover=True)
            decoder = FrameDecoder(maxMessageSize=LIMIT, expectMasked=False, deflate=receiver)
            for _ in range(history):
                self.assertEqual(decoder.feed(encodeMessage(message, sender)), [message])
            self.assertEqual(decoder.feed(frame), [message])


class InteropTests(SynchronousTestCase):
    """
    Our side against plain zlib and against the websockets library.
    """

    def test_zlibInflatesOurs(self) -> None:
        payloads = [b"", b"a", b"Hello", bytes(range(256)) * 40, "κόσμε".encode() * 500]
        for bits in range(9, 16):
            deflate = PerMessageDeflate(sendWindowBits=bits, minSize=0)
            decompressor = zlib.decompressobj(-bits)
            for payload in payloads:
                compressed = deflate.compress(payload)
                self.assertEqual(decompressor.decompress(compressed + TAIL), payload, bits)

    def test_oursInflatesZlib(self) -> None:
        """
        Whatever zlib's level and strategy, and streams flushed with
        C{Z_FULL_FLUSH} or ended with BFINAL set.
        """
        payload = b"some text, some text, more text " * 50 + bytes(range(256))
        streams = []
        for level in (0, 1, 6, 9):
            for strategy in (
                zlib.Z_DEFAULT_STRATEGY,
                zlib.Z_FILTERED,
                zlib.Z_HUFFMAN_ONLY,
                zlib.Z_RLE,
                zlib.Z_FIXED,
            ):
                streams.append(rawDeflate(payload, level=level, strategy=strategy))
        full = zlib.compressobj(6, zlib.DEFLATED, -15)
        streams.append((full.compress(payload) + full.flush(zlib.Z_FULL_FLUSH))[:-4])
        final = zlib.compressobj(6, zlib.DEFLATED, -15)
        streams.append(final.compress(payload) + final.flush(zlib.Z_FINISH) + b"\x00")
        for compressed in streams:
            decoder = FrameDecoder(
                maxMessageSize=LIMIT, deflate=PerMessageDeflate(receiveNoContextTakeover=True)
            )
            frames = compressedMessage(compressed, Opcode.BINARY)
            self.assertEqual(decoder.feed(frames + frames), [payload, payload])

    def test_eightBitWindow(self) -> None:
        """
        What we compress for an 8-bit window inflates with an 8-bit window,
        even from data full of matches 256 to 512 bytes back.
        """
        rng = random.Random(8)
        pieces = [rng.randbytes(rng.randrange(1, 40)) for _ in range(8)]
        payload = b"".join(rng.choice(pieces) for _ in range(2000))
        sender = PerMessageDeflate(sendWindowBits=8, minSize=0)
        receiver = PerMessageDeflate(receiveWindowBits=8)
        # zlib checks distances against its window only across calls, so
        # the decoder is fed small reads.
        decoder = FrameDecoder(maxMessageSize=LIMIT, expectMasked=False, deflate=receiver)
        decompressor = zlib.decompressobj(-8)
        for _ in range(3):
            compressed = sender.compress(payload)
            self.assertLess(len(compressed), len(payload) // 2)
            inflated = b"".join(
                decompressor.decompress(compressed[start : start + 50])
                for start in range(0, len(compressed), 50)
            )
            self.assertEqual(inflated + decompressor.decompress(TAIL), payload)
            frame = compressedMessage(compressed, Opcode.BINARY, mask=None)
            events = []
            for start in range(0, len(frame), 50):
                events += decoder.feed(frame[start : start + 50])
            self.assertEqual(events, [payload])

    def websocketsAgreement(
        self, factory: ClientPerMessageDeflateFactory, policy: DeflatePolicy
    ) -> tuple[Any, PerMessageDeflate] | None:
        """
        Negotiate between a websockets client and our server.
        """
        offer = build_extension([(factory.name, factory.get_request_params())])
        agreed = negotiate(parseExtensions([offer]), policy)
        if agreed is None:
            return None
        [(name, params)] = parse_extension(agreed[0])
        self.assertEqual(name, "permessage-deflate")
        return factory.process_response_params(params, []), agreed[1]

    def test_websocketsClient(self) -> None:
        """
        websockets' client negotiates with us, and each side inflates what
        the other compresses, in both directions.
        """
        clients = [
            ClientPerMessageDeflateFactory(),
            ClientPerMessageDeflateFactory(client_max_window_bits=None),
            ClientPerMessageDeflateFactory(server_no_context_takeover=True),
            ClientPerMessageDeflateFactory(client_no_context_takeover=True),
            ClientPerMessageDeflateFactory(server_max_window_bits=8, client_max_window_bits=9),
            ClientPerMessageDeflateFactory(server_max_window_bits=10, client_max_window_bits=12),
        ]
        policies = [
            DeflatePolicy(minSize=0),
            DeflatePolicy(
                minSize=0,
                serverNoContextTakeover=True,
                clientNoContextTakeover=True,
                serverMaxWindowBits=9,
                clientMaxWindowBits=11,
            ),
        ]
        messages = ["Hello", "Hello", "κόσμε " * 100, "", "x" * 5000, "Hello"]
        for client in clients:
            for policy in policies:
                agreed = self.websocketsAgreement(client, policy)
                if agreed is None:
                    # Only one pairing cannot agree: a client window can't
                    # be limited for a client that does not offer to.
                    self.assertIs(client.client_max_window_bits, None)
                    self.assertLess(policy.clientMaxWindowBits, 15)
                    continue
                theirs, ours = agreed
                self.exchange(theirs, ours, messages)

    def exchange(self, theirs: Any, ours: PerMessageDeflate, messages: list[str]) -> None:
        decoder = FrameDecoder(maxMessageSize=LIMIT, deflate=ours)
        for message in messages:
            frame = Frame(WsOpcode.TEXT, message.encode())
            wire = frame.serialize(mask=True, extensions=[theirs])
            self.assertEqual(decoder.feed(wire), [message])

            reader = StreamReader()
            reader.feed_data(encodeMessage(message, ours))
            parser = Frame.parse(reader.read_exact, mask=False, extensions=[theirs])
            with self.assertRaises(StopIteration) as done:
                next(parser)
            self.assertEqual(done.exception.value.data.decode(), message)


messages = st.lists(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300),
        st.builds(
            lambda chunk, times: chunk * times,
            st.binary(min_size=1, max_size=700),
            st.integers(1, 30),
        ),
    ),
    max_size=6,
)
windowBits = st.integers(8, 15)


class RoundTripTests(SynchronousTestCase):
    """
    Whatever one side compresses, however it is fragmented and cut into
    reads, the other side inflates to the same messages.
    """

    @settings(deadline=None, max_examples=150)
    @given(
        st.data(),
        messages,
        st.integers(9, 15),
        st.booleans(),
        st.sampled_from([0, 1, 6, 9]),
        st.sampled_from([0, 20, 200]),
    )
    def test_clientToServer(
        self,
        data: st.DataObject,
        sent: list[str | bytes],
        bits: int,
        noContext: bool,
        level: int,
        minSize: int,
    ) -> None:
        client = PerMessageDeflate(
            sendWindowBits=bits,
            sendNoContextTakeover=noContext,
            compressLevel=level,
            minSize=minSize,
        )
        server = PerMessageDeflate(receiveWindowBits=bits, receiveNoContextTakeover=noContext)
        frames: list[bytes] = []
        expected: list[Event] = []
        for message in sent:
            if isinstance(message, str):
                opcode, payload = Opcode.TEXT, message.encode()
            else:
                opcode, payload = Opcode.BINARY, message
            rsv = 0
            if len(payload) >= minSize:
                payload, rsv = client.compress(payload), RSV1
            cuts = data.draw(st.lists(st.integers(0, len(payload)), max_size=3))
            bounds = [0, *sorted(cuts), len(payload)]
            for index, (start, stop) in enumerate(pairwise(bounds)):
                if index and data.draw(st.booleans()):
                    ping = data.draw(st.binary(max_size=MAX_PAYLOAD_NORMAL))
                    frames.append(encodeFrame(Opcode.PING, ping, mask=KEY))
                    expected.append(Ping(ping))
                frames.append(
                    encodeFrame(
                        opcode if index == 0 else Opcode.CONTINUATION,
                        payload[start:stop],
                        fin=index == len(bounds) - 2,
                        rsv=rsv if index == 0 else 0,
                        mask=data.draw(st.binary(min_size=4, max_size=4)),
                    )
                )
            expected.append(message)

        wire = b"".join(frames)
        reads = sorted(data.draw(st.lists(st.integers(0, len(wire)))))
        decoder = FrameDecoder(maxMessageSize=LIMIT, deflate=server)
        received: list[Event] = []
        for start, stop in pairwise([0, *reads, len(wire)]):
            received += decoder.feed(wire[start:stop])
        self.assertEqual(received, expected)

    @settings(deadline=None, max_examples=150)
    @given(st.data(), messages, windowBits, st.booleans(), st.sampled_from([1, 9]))
    def test_serverToClient(
        self,
        data: st.DataObject,
        sent: list[str | bytes],
        bits: int,
        noContext: bool,
        memLevel: int,
    ) -> None:
        """
        Frames from L{encodeMessage}, with any agreed server window,
        8 included (zlib compresses with 9).
        """
        server = PerMessageDeflate(
            sendWindowBits=bits, sendNoContextTakeover=noContext, minSize=0, memLevel=memLevel
        )
        client = peerOf(server)
        wire = b"".join(encodeMessage(message, server) for message in sent)
        reads = sorted(data.draw(st.lists(st.integers(0, len(wire)))))
        decoder = FrameDecoder(maxMessageSize=LIMIT, expectMasked=False, deflate=client)
        received: list[Event] = []
        for start, stop in pairwise([0, *reads, len(wire)]):
            received += decoder.feed(wire[start:stop])
        self.assertEqual(received, sent)


def clientAccepts(answer: str, policy: DeflatePolicy) -> PerMessageDeflate:
    """
    The client's side of the extension once the server answered C{answer}.
    """
    parsed = parseElement(answer)
    assert parsed is not None, answer
    name, params = parsed
    assert name == "permessage-deflate"
    return acceptResponse(params, policy)


policies = st.builds(
    DeflatePolicy,
    serverNoContextTakeover=st.booleans(),
    clientNoContextTakeover=st.booleans(),
    serverMaxWindowBits=st.integers(8, 15),
    clientMaxWindowBits=st.integers(9, 15),
    minSize=st.sampled_from([0, 20]),
)


class ClientOfferTests(SynchronousTestCase):
    """
    L{renderOffer} writes a client's offer from a L{DeflatePolicy}.
    """

    def test_default(self) -> None:
        """
        What browsers offer: any window for either side.
        """
        self.assertEqual(renderOffer(DeflatePolicy()), "permessage-deflate; client_max_window_bits")

    def test_everything(self) -> None:
        policy = DeflatePolicy(
            serverNoContextTakeover=True,
            clientNoContextTakeover=True,
            serverMaxWindowBits=10,
            clientMaxWindowBits=12,
        )
        self.assertEqual(
            renderOffer(policy),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=10; client_max_window_bits=12",
        )

    def test_disabled(self) -> None:
        self.assertIsNone(renderOffer(DeflatePolicy(enabled=False)))

    @given(policies)
    def test_parses(self, policy: DeflatePolicy) -> None:
        """
        The offer is one well-formed element.
        """
        offer = renderOffer(policy)
        assert offer is not None
        self.assertEqual(len(parseExtensions([offer])), 1)


class ClientAcceptTests(SynchronousTestCase):
    """
    L{acceptResponse} checks a server's answer as RFC 7692 section 7.1 says
    a client must.
    """

    def assertFails(self, answer: str, policy: DeflatePolicy, reason: str) -> None:
        error = self.assertRaises(InvalidHandshakeResponse, clientAccepts, answer, policy)
        self.assertIn(reason, error.reason)
        self.assertTrue(error.reason.startswith("permessage-deflate: "), error.reason)

    def test_plain(self) -> None:
        deflate = clientAccepts("permessage-deflate", DeflatePolicy(minSize=7, compressLevel=3))
        self.assertEqual(
            (
                deflate.sendWindowBits,
                deflate.sendNoContextTakeover,
                deflate.receiveWindowBits,
                deflate.receiveNoContextTakeover,
                deflate.minSize,
                deflate.compressLevel,
            ),
            (15, False, 15, False, 7, 3),
        )

    def test_directions(self) -> None:
        """
        The client sends with the C{client_*} parameters and receives with
        the C{server_*} ones.
        """
        deflate = clientAccepts(
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; "
            "client_max_window_bits=10",
            DeflatePolicy(),
        )
        self.assertEqual((deflate.receiveNoContextTakeover, deflate.receiveWindowBits), (True, 9))
        self.assertEqual((deflate.sendNoContextTakeover, deflate.sendWindowBits), (False, 10))

    def test_clientNoContextTakeover(self) -> None:
        """
        The server may ask us to reset; asking it ourselves, we reset
        whatever it answers.
        """
        asked = clientAccepts("permessage-deflate; client_no_context_takeover", DeflatePolicy())
        self.assertTrue(asked.sendNoContextTakeover)
        ours = clientAccepts("permessage-deflate", DeflatePolicy(clientNoContextTakeover=True))
        self.assertTrue(ours.sendNoContextTakeover)

    def test_ownClientWindow(self) -> None:
        """
        Offered C{client_max_window_bits=N}, we compress with N unless the
        server says less.
        """
        policy = DeflatePolicy(clientMaxWindowBits=11)
        self.assertEqual(clientAccepts("permessage-deflate", policy).sendWindowBits, 11)
        answer = "permessage-deflate; client_max_window_bits=8"
        self.assertEqual(clientAccepts(answer, policy).sendWindowBits, 8)

    def test_serverWindowUnasked(self) -> None:
        """
        A server may limit its own window unasked.
        """
        deflate = clientAccepts("permessage-deflate; server_max_window_bits=12", DeflatePolicy())
        self.assertEqual(deflate.receiveWindowBits, 12)

    def test_quotedValue(self) -> None:
        deflate = clientAccepts('permessage-deflate; server_max_window_bits="10"', DeflatePolicy())
        self.assertEqual(deflate.receiveWindowBits, 10)

    def test_unknownParameter(self) -> None:
        self.assertFails("permessage-deflate; x", DeflatePolicy(), "unknown parameter 'x'")
        self.assertFails(
            "permessage-deflate; client_window=9", DeflatePolicy(), "unknown parameter"
        )

    def test_noContextTakeoverWithValue(self) -> None:
        for key in ("server_no_context_takeover", "client_no_context_takeover"):
            self.assertFails(f"permessage-deflate; {key}=1", DeflatePolicy(), "takes no value")

    def test_badWindowBits(self) -> None:
        for key in ("server_max_window_bits", "client_max_window_bits"):
            for value in ("=7", "=16", "=08", "=x", ""):
                self.assertFails(f"permessage-deflate; {key}{value}", DeflatePolicy(), "8 to 15")

    def test_serverWindowOverOffer(self) -> None:
        self.assertFails(
            "permessage-deflate; server_max_window_bits=11",
            DeflatePolicy(serverMaxWindowBits=10),
            "over the 10 offered",
        )

    def test_serverWindowNotAnswered(self) -> None:
        """
        A server that ignores our C{server_max_window_bits} would compress
        with a window we cannot inflate with.
        """
        self.assertFails(
            "permessage-deflate", DeflatePolicy(serverMaxWindowBits=10), "offered and not answered"
        )

    def test_clientWindowOverOffer(self) -> None:
        self.assertFails(
            "permessage-deflate; client_max_window_bits=13",
            DeflatePolicy(clientMaxWindowBits=12),
            "over the 12 offered",
        )

    def test_serverNoContextTakeoverNotAnswered(self) -> None:
        self.assertFails(
            "permessage-deflate",
            DeflatePolicy(serverNoContextTakeover=True),
            "server_no_context_takeover was offered and not answered",
        )

    @settings(deadline=None, max_examples=60)
    @given(policies, policies, st.data())
    def test_againstServer(
        self, client: DeflatePolicy, server: DeflatePolicy, data: st.DataObject
    ) -> None:
        """
        Whatever our offer and the server's policy, L{negotiate} agrees, we
        accept its answer, and messages go both ways.
        """
        offer = renderOffer(client)
        assert offer is not None
        agreed = negotiate(parseExtensions([offer]), server)
        assert agreed is not None, (offer, server)
        answer, serverSide = agreed
        clientSide = clientAccepts(answer, client)
        self.assertEqual(clientSide.sendWindowBits, serverSide.receiveWindowBits)
        self.assertEqual(clientSide.receiveWindowBits, serverSide.sendWindowBits)
        self.assertEqual(clientSide.receiveNoContextTakeover, serverSide.sendNoContextTakeover)
        # The server may free its decompressor only if we reset.
        self.assertGreaterEqual(
            clientSide.sendNoContextTakeover, serverSide.receiveNoContextTakeover
        )
        self.assertLessEqual(clientSide.receiveWindowBits, client.serverMaxWindowBits)
        self.assertLessEqual(clientSide.sendWindowBits, client.clientMaxWindowBits)

        sent = data.draw(messages)
        upstream = b"".join(
            compressedMessage(clientSide.compress(_payload(message)), _opcode(message))
            for message in sent
        )
        decoder = FrameDecoder(maxMessageSize=LIMIT, deflate=serverSide)
        self.assertEqual(decoder.feed(upstream), sent)
        downstream = b"".join(encodeMessage(message, serverSide) for message in sent)
        decoder = FrameDecoder(maxMessageSize=LIMIT, expectMasked=False, deflate=clientSide)
        self.assertEqual(decoder.feed(downstream), sent)


def _payload(message: str | bytes) -> bytes:
    return message.encode() if isinstance(message, str) else message


def _opcode(message: str | bytes) -> int:
    return Opcode.TEXT if isinstance(message, str) else Opcode.BINARY
