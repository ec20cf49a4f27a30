"""
The RESP2 codec: the protocol specification's own examples, every fixture fed
in every chunk size down to one byte, round trips of random replies and
commands (hypothesis), and every limit and malformation of the parser.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.redis.errors import RedisError, RedisProtocolError
from ratchet_tx.redis.resp import (
    MAX_ARRAY_LENGTH,
    MAX_BULK_LENGTH,
    MAX_DEPTH,
    MAX_LINE_LENGTH,
    ReplyParser,
    encodeCommand,
)
from tests.redis.helpers import encodeReply

#: The examples of the RESP2 specification (redis.io, "Redis serialization
#: protocol specification"), with the values they stand for.
SPEC_VECTORS: list[tuple[bytes, object]] = [
    (b"+OK\r\n", "OK"),
    (b"-Error message\r\n", RedisError("Error message")),
    (b"-ERR unknown command 'asdf'\r\n", RedisError("ERR unknown command 'asdf'")),
    (
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        RedisError("WRONGTYPE Operation against a key holding the wrong kind of value"),
    ),
    (b":0\r\n", 0),
    (b":1000\r\n", 1000),
    (b":-42\r\n", -42),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"*0\r\n", []),
    (b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n", [b"hello", b"world"]),
    (b"*3\r\n:1\r\n:2\r\n:3\r\n", [1, 2, 3]),
    (b"*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$5\r\nhello\r\n", [1, 2, 3, 4, b"hello"]),
    (b"*-1\r\n", None),
    (
        b"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
        [[1, 2, 3], ["Hello", RedisError("World")]],
    ),
    (b"*3\r\n$5\r\nhello\r\n$-1\r\n$5\r\nworld\r\n", [b"hello", None, b"world"]),
]

#: More fixtures: binary bulks holding CRLF, the largest integers, a
#: pub/sub message, deep nesting, arrays of mixed and nil elements.
MORE_VECTORS: list[tuple[bytes, object]] = [
    (b"$4\r\n\r\n\r\n\r\n", b"\r\n\r\n"),
    (b"$3\r\n\x00\xff\r\r\n", b"\x00\xff\r"),
    (b":9223372036854775807\r\n", 2**63 - 1),
    (b":-9223372036854775808\r\n", -(2**63)),
    (
        b"*3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$5\r\nhello\r\n",
        [b"message", b"chan", b"hello"],
    ),
    (b"*1\r\n*1\r\n*1\r\n*0\r\n", [[[[]]]]),
    (b"*2\r\n*-1\r\n$-1\r\n", [None, None]),
    (b"*3\r\n$1\r\na\r\n+b\r\n$1\r\nc\r\n", [b"a", "b", b"c"]),
    (b"+caf\xc3\xa9\r\n", "caf\u00e9"),
]

ALL_VECTORS = SPEC_VECTORS + MORE_VECTORS


def feedInChunks(data: bytes, size: int, parser: ReplyParser | None = None) -> list[object]:
    """Feed C{data} to a parser C{size} bytes at a time; return every reply."""
    parser = parser or ReplyParser()
    replies: list[object] = []
    for i in range(0, len(data), size):
        replies += parser.feed(data[i : i + size])
    return replies


def parseOne(data: bytes, **limits: int) -> object:
    replies = ReplyParser(**limits).feed(data)
    assert len(replies) == 1, replies
    return replies[0]


class SpecVectorTests(SynchronousTestCase):
    def test_eachVector(self) -> None:
        for wire, value in ALL_VECTORS:
            with self.subTest(wire=wire):
                self.assertEqual(ReplyParser().feed(wire), [value])

    def test_simpleStringsAndErrorsAreText(self) -> None:
        self.assertIsInstance(parseOne(b"+OK\r\n"), str)
        error = parseOne(b"-NOSCRIPT No matching script\r\n")
        assert isinstance(error, RedisError)
        self.assertEqual(error.code, "NOSCRIPT")
        self.assertEqual(error.message, "NOSCRIPT No matching script")

    def test_allAtOnceInEveryChunkSize(self) -> None:
        """
        All the fixtures back to back, fed in every chunk size from one byte
        to all of it, give the same replies in the same order.
        """
        wire = b"".join(w for w, _ in ALL_VECTORS)
        expected = [v for _, v in ALL_VECTORS]
        for size in range(1, len(wire) + 1):
            with self.subTest(size=size):
                self.assertEqual(feedInChunks(wire, size), expected)

    def test_eachVectorInEveryChunkSize(self) -> None:
        for wire, value in ALL_VECTORS:
            for size in range(1, len(wire) + 1):
                self.assertEqual(feedInChunks(wire, size), [value], (wire, size))

    def test_repliesComeAsTheyComplete(self) -> None:
        parser = ReplyParser()
        self.assertEqual(parser.feed(b"+OK\r\n$5\r\nhel"), ["OK"])
        self.assertEqual(parser.feed(b"lo"), [])
        self.assertEqual(parser.feed(b"\r"), [])
        self.assertEqual(parser.feed(b"\n*2\r\n:1\r\n"), [b"hello"])
        self.assertEqual(parser.feed(b":2\r\n:3\r\n"), [[1, 2], 3])
        self.assertEqual(parser.feed(b""), [])

    def test_largeBulkInManyReads(self) -> None:
        """
        A 1 MiB bulk string arriving 4 KiB at a time is returned once,
        whole, by the read that completes it.
        """
        body = bytes(range(256)) * 4096
        wire = encodeReply([body, b"after"]) + b":7\r\n"
        parser = ReplyParser()
        outputs = [parser.feed(wire[i : i + 4096]) for i in range(0, len(wire), 4096)]
        self.assertEqual([o for o in outputs if o], [[[body, b"after"], 7]])

    def test_longArrayInManyReads(self) -> None:
        items = [b"%d" % i for i in range(10000)]
        wire = encodeReply(items)
        self.assertEqual(feedInChunks(wire, 1000), [items])
        self.assertEqual(feedInChunks(wire, 7), [items])


class EncodeCommandTests(SynchronousTestCase):
    def test_specExample(self) -> None:
        self.assertEqual(encodeCommand("LLEN", "mylist"), b"*2\r\n$4\r\nLLEN\r\n$6\r\nmylist\r\n")

    def test_argumentTypes(self) -> None:
        self.assertEqual(
            encodeCommand(b"SET", "k\u00e9", 42, -7, 0.5, bytearray(b"a"), memoryview(b"b")),
            b"*7\r\n$3\r\nSET\r\n$3\r\nk\xc3\xa9\r\n$2\r\n42\r\n$2\r\n-7\r\n"
            b"$3\r\n0.5\r\n$1\r\na\r\n$1\r\nb\r\n",
        )

    def test_floatsExactlyAndShortest(self) -> None:
        for number, text in [(0.1, b"0.1"), (1e100, b"1e+100"), (float("inf"), b"inf")]:
            self.assertEqual(encodeCommand(number), b"*1\r\n$%d\r\n%s\r\n" % (len(text), text))

    def test_binarySafe(self) -> None:
        self.assertEqual(encodeCommand(b"\r\n\x00"), b"*1\r\n$3\r\n\r\n\x00\r\n")

    def test_refusedArguments(self) -> None:
        for bad in [None, True, False, [b"a"], {"a": 1}, object()]:
            with self.subTest(bad=bad):
                self.assertRaises(TypeError, encodeCommand, "SET", "key", bad)

    def test_noCommand(self) -> None:
        self.assertRaises(TypeError, encodeCommand)


# Random replies: every type, nested.
_texts = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=30
)
_scalars = st.one_of(
    st.binary(max_size=60),
    _texts,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.none(),
    _texts.map(lambda t: RedisError("ERR " + t)),
)
_replies = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=6), max_leaves=30)


class RoundTripTests(SynchronousTestCase):
    @given(st.lists(_replies, min_size=1, max_size=8), st.data())
    def test_repliesInAnyChunking(self, replies: list[object], data: st.DataObject) -> None:
        """
        Any sequence of replies, encoded and cut at arbitrary points, parses
        back to itself.
        """
        wire = b"".join(encodeReply(r) for r in replies)  # type: ignore[arg-type]
        cuts = sorted(
            data.draw(st.lists(st.integers(min_value=0, max_value=len(wire)), max_size=10))
        )
        pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
        parser = ReplyParser()
        parsed: list[object] = []
        for piece in pieces:
            parsed += parser.feed(piece)
        self.assertEqual(parsed, replies)

    @given(
        st.lists(
            st.one_of(st.binary(max_size=40), st.text(max_size=20), st.integers()),
            min_size=1,
            max_size=10,
        ),
        st.integers(min_value=1, max_value=16),
    )
    def test_commandsParseAsArraysOfBulks(self, args: list[object], size: int) -> None:
        """
        A command is an array of bulk strings, which the reply parser reads
        back: each argument's bytes.
        """
        wire = encodeCommand(*args)  # type: ignore[arg-type]
        expected = [
            a.encode("utf-8") if isinstance(a, str) else b"%d" % a if isinstance(a, int) else a
            for a in args
        ]
        self.assertEqual(feedInChunks(wire, size), [expected])


class RefusalTestCase(SynchronousTestCase):
    """Tests of what the parser refuses."""

    def assertRefused(self, wire: bytes, message: str, **limits: int) -> RedisProtocolError:
        """C{wire}, in every chunking, is refused with C{message}."""
        error = None
        for size in range(1, len(wire) + 1):
            parser = ReplyParser(**limits)
            with self.assertRaises(RedisProtocolError) as caught:
                feedInChunks(wire, size, parser)
            self.assertIn(message, str(caught.exception))
            error = caught.exception
        assert error is not None
        return error


class LimitTests(RefusalTestCase):
    def test_defaults(self) -> None:
        parser = ReplyParser()
        self.assertEqual(parser.maxBulkLength, MAX_BULK_LENGTH)
        self.assertEqual(MAX_BULK_LENGTH, 512 * 2**20)
        self.assertEqual(parser.maxArrayLength, MAX_ARRAY_LENGTH)
        self.assertEqual(parser.maxDepth, MAX_DEPTH)
        self.assertEqual(parser.maxLineLength, MAX_LINE_LENGTH)

    def test_bulkAtTheLimit(self) -> None:
        self.assertEqual(parseOne(b"$4\r\nabcd\r\n", maxBulkLength=4), b"abcd")

    def test_bulkOverTheLimitFromItsHeader(self) -> None:
        """
        A bulk longer than allowed is refused from its header, before its
        body is read (nothing of it is buffered).
        """
        self.assertRefused(b"$5\r\n", "bulk length 5 exceeds the limit of 4", maxBulkLength=4)
        self.assertRefused(b"$536870913\r\n", "exceeds the limit of 536870912")
        self.assertRefused(b"*1\r\n$5\r\n", "exceeds", maxBulkLength=4)

    def test_arrayOverTheLimit(self) -> None:
        self.assertEqual(parseOne(b"*2\r\n:1\r\n:2\r\n", maxArrayLength=2), [1, 2])
        self.assertRefused(b"*3\r\n", "array length 3 exceeds the limit of 2", maxArrayLength=2)
        self.assertRefused(b"*2147483648\r\n", "exceeds the limit of 2147483647")

    def test_depth(self) -> None:
        self.assertEqual(parseOne(b"*1\r\n*1\r\n:1\r\n", maxDepth=2), [[1]])
        self.assertRefused(b"*1\r\n*1\r\n*1\r\n:1\r\n", "nested deeper than 2", maxDepth=2)
        self.assertRefused(b"*1\r\n" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH}")

    def test_emptyAndNilArraysDoNotNest(self) -> None:
        self.assertEqual(parseOne(b"*2\r\n*0\r\n*-1\r\n", maxDepth=1), [[], None])

    def test_lineOverTheLimit(self) -> None:
        """
        A line is refused once it is longer than allowed, whether its CRLF
        came or not: an endless line is not buffered without bound.
        """
        self.assertEqual(parseOne(b"+" + b"x" * 10 + b"\r\n", maxLineLength=10), "x" * 10)
        self.assertRefused(b"+" + b"x" * 11 + b"\r\n", "longer than 10", maxLineLength=10)
        self.assertRefused(b"-" + b"x" * 11 + b"\r\n", "longer than 10", maxLineLength=10)
        self.assertRefused(b"+" + b"x" * 12, "longer than 10", maxLineLength=10)
        self.assertRefused(b"$" + b"1" * 12, "longer than 10", maxLineLength=10)

    def test_endlessLineInSmallReads(self) -> None:
        """One byte per read: refused as soon as the limit (and a CR) is passed."""
        parser = ReplyParser(maxLineLength=1000)
        parser.feed(b"+")
        for _ in range(1001):
            self.assertEqual(parser.feed(b"x"), [])
        self.assertRaises(RedisProtocolError, parser.feed, b"x")


class MalformedTests(RefusalTestCase):
    def test_badLengths(self) -> None:
        for header in [b"$", b"$abc", b"$-2", b"$ 5", b"$+5", b"$5 ", b"$1_0", b"$0x5"]:
            with self.subTest(header=header):
                self.assertRefused(header + b"\r\n", "invalid bulk length")
        for header in [b"*", b"*x", b"*-5", b"* 1"]:
            with self.subTest(header=header):
                self.assertRefused(header + b"\r\n", "invalid array length")

    def test_tooManyDigits(self) -> None:
        self.assertRefused(b"$" + b"0" * 20 + b"5\r\n", "invalid bulk length")
        self.assertRefused(b":" + b"9" * 20 + b"\r\n", "invalid integer")

    def test_badIntegers(self) -> None:
        for line in [b":", b":-", b":1.5", b": 1", b":+1", b":1_0", b":--1", b":\xd9\xa3"]:
            with self.subTest(line=line):
                self.assertRefused(line + b"\r\n", "invalid integer")

    def test_unknownTypes(self) -> None:
        """RESP3 types and garbage are refused: the client speaks RESP2."""
        for line in [b"_", b",1.5", b"#t", b"%1", b"~1", b">2", b"hello", b"\x00"]:
            with self.subTest(line=line):
                self.assertRefused(line + b"\r\n", "unknown reply type")

    def test_bulkWithoutCRLF(self) -> None:
        self.assertRefused(b"$3\r\nabcXY", "not followed by CRLF")
        self.assertRefused(b"*1\r\n$3\r\nabcX\n", "not followed by CRLF")

    def test_errorCarriesEarlierReplies(self) -> None:
        """
        The replies completed before the bad bytes, in the same read, come
        with the error; those of earlier reads were returned already.
        """
        parser = ReplyParser()
        self.assertEqual(parser.feed(b"+first\r\n"), ["first"])
        with self.assertRaises(RedisProtocolError) as caught:
            parser.feed(b":1\r\n*2\r\n:2\r\n$3\r\nabc\r\n!bad\r\n:3\r\n")
        self.assertEqual(list(caught.exception.replies), [1, [2, b"abc"]])

    def test_failedStaysFailed(self) -> None:
        parser = ReplyParser()
        self.assertRaises(RedisProtocolError, parser.feed, b"!\r\n")
        with self.assertRaises(RedisProtocolError) as caught:
            parser.feed(b"+OK\r\n")
        self.assertIn("unknown reply type", str(caught.exception))
