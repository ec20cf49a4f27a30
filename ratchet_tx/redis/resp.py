# -*- test-case-name: tests.redis.test_resp -*-
"""
RESP2, the protocol Redis speaks by default: commands out, replies in.

No I/O here and no Twisted: L{encodeCommand} turns a command into bytes, and
a L{ReplyParser} is fed the bytes read from the server, in any chunking, and
returns the replies completed so far.

Theory of operation
===================

A command is an array of bulk strings::

    *<count>\\r\\n  then, per argument, $<length>\\r\\n<bytes>\\r\\n

A reply starts with a type byte and ends its first line with CRLF::

    +OK\\r\\n                 simple string    -> str
    -ERR unknown\\r\\n        error            -> RedisError (a value, not raised)
    :1000\\r\\n               integer          -> int
    $5\\r\\nhello\\r\\n         bulk string      -> bytes ($-1\\r\\n: None)
    *2\\r\\n:1\\r\\n:2\\r\\n       array of replies -> list (*-1\\r\\n: None)

L{ReplyParser.feed} runs over the bytes in one loop with an offset: it finds
each line's CRLF with C{bytes.find} and takes a bulk string's body by its
declared length (one slice), so no Python code runs per byte.  An array
header pushes an open array on a stack (bounded by C{maxDepth}); each
completed value goes into the innermost open array, and whatever completes
the outermost one -- or a value outside any array -- is a reply.

What is kept between two calls is at most

    - the open arrays (the values they already have, and how many more they
      need), so a long array arriving in many reads is parsed once;
    - an incomplete line, at most C{maxLineLength} bytes (a C{bytearray}
      appended to, searched for CRLF only where the new bytes are);
    - the already received pieces of a bulk string whose body is incomplete
      (its declared length was checked against C{maxBulkLength} from the
      header alone), joined once when it is whole.

Bad input -- an unknown type byte, a malformed length, a limit exceeded, a
bulk not followed by CRLF -- raises L{RedisProtocolError}, which carries the
replies completed before it; the parser then stays failed, since nothing
after the bad bytes can be trusted.  RESP3 types never arrive: the client
never sends C{HELLO 3}.

Speed, and why not hiredis
==========================

C{bench/redis_parse.py} measures it.  On the reference machine (one core):
about 1.7 million short GET replies/s and 0.46 million pub/sub messages/s
(35-45 MiB/s); hiredis's C parser is 7 to 20 times faster.  But a pipelined
GET through L{ratchet_tx.redis.client.RedisClient} costs about 6 us of CPU in
the client process, of which parsing is 0.6 us (10 %), and a session lookup
or a hub message costs far more than that around it (a handshake, a fan-out
to many sockets).  And C{hiredis.Reader} has no limit on a bulk's or an
array's declared length: it would buffer whatever a server announces.  So
hiredis is not used, not even as an option; the measurement is there to be
run again when that balance changes.
"""

from __future__ import annotations

from typing import TypeAlias

from ratchet_tx.redis.errors import RedisError, RedisProtocolError

#: One reply: what L{ReplyParser.feed} returns items of.
Reply: TypeAlias = "bytes | str | int | None | RedisError | list[Reply]"

#: What a command's argument may be: C{str} is sent as UTF-8, C{int} and
#: C{float} as their decimal text (a C{float} in its shortest exact form),
#: C{bytearray} and C{memoryview} as their bytes.
Argument: TypeAlias = "bytes | str | int | float | bytearray | memoryview"

#: The longest bulk string accepted, as Redis's own C{proto-max-bulk-len}.
MAX_BULK_LENGTH = 512 * 2**20

#: The most elements an array may declare: Redis's own bound on the length
#: of a multibulk it reads (a C int).  Elements are not allocated ahead, so
#: the declared count costs nothing until the elements arrive.
MAX_ARRAY_LENGTH = 2**31 - 1

#: How deeply arrays may nest.  Redis's own replies nest at most 5 or 6
#: levels (C{XREAD}, C{XINFO STREAM FULL}); deeper comes only from a Lua
#: script returning nested tables.
MAX_DEPTH = 32

#: The longest line (simple string, error, integer, or a header) accepted;
#: long error messages come from Lua scripts.
MAX_LINE_LENGTH = 1 * 2**20

_CRLF = b"\r\n"
#: The most digits of a length or integer: a 64-bit signed integer's 19.
_MAX_DIGITS = 19
_NIL = b"-1"
_MINUS = b"-"

# Type bytes, as C{data[i]} gives them.
_BULK = ord("$")
_ARRAY = ord("*")
_SIMPLE = ord("+")
_ERROR = ord("-")
_INTEGER = ord(":")


def _encodeArgument(arg: Argument) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode("utf-8")
    if isinstance(arg, bool):
        raise TypeError("a Redis argument cannot be a bool: send 1/0 or b'true'/b'false'")
    if isinstance(arg, int):
        return b"%d" % (arg,)
    if isinstance(arg, float):
        return repr(arg).encode("ascii")
    if isinstance(arg, (bytearray, memoryview)):
        return bytes(arg)
    raise TypeError(f"a Redis argument must be bytes, str, int or float, not {type(arg).__name__}")


def encodeCommand(*args: Argument) -> bytes:
    """
    One command in RESP2: an array of bulk strings.

        >>> encodeCommand("SET", "key", 1)
        b'*3\\r\\n$3\\r\\nSET\\r\\n$3\\r\\nkey\\r\\n$1\\r\\n1\\r\\n'

    @param args: the command's name and arguments: C{bytes} as they are,
        C{str} as UTF-8, C{int} and C{float} as decimal text (C{bytearray}
        and C{memoryview} are copied as bytes).
    @raise TypeError: an argument of another type (C{None}, C{bool}, ...),
        or no argument at all.
    """
    if not args:
        raise TypeError("a Redis command needs at least its name")
    parts = [b"*%d\r\n" % (len(args),)]
    for arg in args:
        raw = arg if type(arg) is bytes else _encodeArgument(arg)
        parts.append(b"$%d\r\n" % (len(raw),))
        parts.append(raw)
        parts.append(_CRLF)
    return b"".join(parts)


def _isInteger(raw: bytes) -> bool:
    """C{raw} is a RESP integer: an optional minus and 1 to 19 digits."""
    if raw[:1] == _MINUS:
        raw = raw[1:]
    return raw.isdigit() and len(raw) <= _MAX_DIGITS


class ReplyParser:
    """
    Parse RESP2 replies from bytes fed in any chunking::

        parser = ReplyParser()
        parser.feed(b"+OK\\r\\n$5\\r\\nhel")   # -> ["OK"]
        parser.feed(b"lo\\r\\n")               # -> [b"hello"]

    @ivar maxBulkLength: the longest bulk string accepted.
    @ivar maxArrayLength: the most elements one array may declare.
    @ivar maxDepth: how deeply arrays may nest (1: no array inside an array).
    @ivar maxLineLength: the longest line (simple string, error, integer or a
        length header) accepted, CRLF excluded.
    """

    def __init__(
        self,
        *,
        maxBulkLength: int = MAX_BULK_LENGTH,
        maxArrayLength: int = MAX_ARRAY_LENGTH,
        maxDepth: int = MAX_DEPTH,
        maxLineLength: int = MAX_LINE_LENGTH,
    ) -> None:
        self.maxBulkLength = maxBulkLength
        self.maxArrayLength = maxArrayLength
        self.maxDepth = maxDepth
        self.maxLineLength = maxLineLength
        # The open arrays, outermost first: [values so far, values missing].
        self._stack: list[list] = []
        # An incomplete line (or header) from the previous reads.
        self._line = bytearray()
        # A bulk string whose body is incomplete: its pieces so far, and how
        # many bytes (body and CRLF) are still to come; 0 when there is none.
        self._bulkPieces: list[bytes] = []
        self._bulkMissing = 0
        self._failure: RedisProtocolError | None = None

    def feed(self, data: bytes) -> list[Reply]:
        """
        Parse C{data}, the next bytes from the server.

        @return: the replies completed by these bytes, in order (often none,
            often several).  Error replies are L{RedisError} values in it.
        @raise RedisProtocolError: the bytes break RESP2 or a limit; its
            C{replies} are those completed before the bad bytes.  Every later
            call raises the same error.
        """
        if self._failure is not None:
            raise self._failure
        replies: list[Reply] = []
        try:
            if self._bulkMissing:
                rest = self._continueBulk(data, replies)
                if rest is None:
                    return replies
                data = rest
            line = self._line
            if line:
                searchFrom = len(line) - 1
                line += data
                if line.find(_CRLF, searchFrom) < 0:
                    self._checkPartialLine(len(line))
                    return replies
                data = bytes(line)
                del line[:]
            self._parse(data, replies)
        except RedisProtocolError as e:
            self._failure = RedisProtocolError(str(e), replies)
            raise self._failure from None
        return replies

    def _checkLine(self, length: int) -> None:
        """A complete line's text (type byte and CRLF excluded) is not too long."""
        if length > self.maxLineLength:
            raise RedisProtocolError(f"a line longer than {self.maxLineLength} bytes")

    def _checkPartialLine(self, length: int) -> None:
        """
        An incomplete line (C{length} bytes with its type byte, perhaps the
        CR of its CRLF) can still become one that is not too long.
        """
        self._checkLine(length - 2)

    def _length(self, raw: bytes, limit: int, what: str) -> int:
        """A bulk or array header's length: -1 (nil) up to C{limit}."""
        if raw.isdigit() and len(raw) <= _MAX_DIGITS:
            length = int(raw)
            if length <= limit:
                return length
            raise RedisProtocolError(f"{what} {length} exceeds the limit of {limit}")
        if raw == _NIL:
            return -1
        raise RedisProtocolError(f"invalid {what} {raw[:40]!r}")

    def _parse(self, data: bytes, replies: list[Reply]) -> None:
        """
        Parse complete values from C{data} into C{replies} (or the open
        arrays); keep an incomplete line or bulk body for the next read.
        """
        stack = self._stack
        maxBulk = self.maxBulkLength
        pos = 0
        size = len(data)
        value: Reply
        while pos < size:
            end = data.find(_CRLF, pos)
            if end < 0:
                self._checkPartialLine(size - pos)
                self._line += data[pos:]
                return
            kind = data[pos]
            if kind == _BULK:
                raw = data[pos + 1 : end]
                if raw.isdigit() and len(raw) <= _MAX_DIGITS and int(raw) <= maxBulk:
                    length = int(raw)
                else:
                    length = self._length(raw, maxBulk, "bulk length")
                if length < 0:
                    value = None
                    pos = end + 2
                else:
                    start = end + 2
                    stop = start + length
                    if stop + 2 > size:
                        self._bulkPieces = [data[start:]]
                        self._bulkMissing = length + 2 - (size - start)
                        return
                    if data[stop : stop + 2] != _CRLF:
                        raise RedisProtocolError("a bulk string not followed by CRLF")
                    value = data[start:stop]
                    pos = stop + 2
            elif kind == _ARRAY:
                length = self._length(data[pos + 1 : end], self.maxArrayLength, "array length")
                pos = end + 2
                if length > 0:
                    if len(stack) >= self.maxDepth:
                        raise RedisProtocolError(f"arrays nested deeper than {self.maxDepth}")
                    # The common case, an array of bulk strings (a pub/sub
                    # message, LRANGE, HGETALL), in a loop of its own; it
                    # leaves the array open at the first element it cannot
                    # take (another type, nil, or incomplete).
                    items: list[Reply] = []
                    append = items.append
                    while True:
                        if data[pos : pos + 1] != b"$":
                            break
                        end = data.find(_CRLF, pos)
                        if end < 0:
                            break
                        raw = data[pos + 1 : end]
                        if not (raw.isdigit() and len(raw) <= _MAX_DIGITS):
                            break
                        start = end + 2
                        stop = start + int(raw)
                        if stop + 2 > size or stop - start > maxBulk:
                            break
                        if data[stop : stop + 2] != _CRLF:
                            raise RedisProtocolError("a bulk string not followed by CRLF")
                        append(data[start:stop])
                        pos = stop + 2
                        if len(items) == length:
                            break
                    if len(items) < length:
                        stack.append([items, length - len(items)])
                        continue
                    value = items
                else:
                    value = [] if length == 0 else None
            elif kind == _SIMPLE:
                self._checkLine(end - pos - 1)
                value = data[pos + 1 : end].decode("utf-8", "replace")
                pos = end + 2
            elif kind == _INTEGER:
                raw = data[pos + 1 : end]
                if not _isInteger(raw):
                    raise RedisProtocolError(f"invalid integer {raw[:40]!r}")
                value = int(raw)
                pos = end + 2
            elif kind == _ERROR:
                self._checkLine(end - pos - 1)
                value = RedisError(data[pos + 1 : end].decode("utf-8", "replace"))
                pos = end + 2
            else:
                raise RedisProtocolError(f"unknown reply type {data[pos : pos + 1]!r}")
            if stack:
                self._deliver(value, replies)
            else:
                replies.append(value)

    def _deliver(self, value: Reply, replies: list[Reply]) -> None:
        """
        A value is complete: it goes into the innermost open array, and
        every array it completes goes into the next one out; what is left
        when none is open is a reply.
        """
        stack = self._stack
        while stack:
            top = stack[-1]
            top[0].append(value)
            top[1] -= 1
            if top[1]:
                return
            stack.pop()
            value = top[0]
        replies.append(value)

    def _continueBulk(self, data: bytes, replies: list[Reply]) -> bytes | None:
        """
        Take C{data} as more of the incomplete bulk string.

        @return: the bytes after the bulk string once it is complete (it was
            delivered), or C{None} when C{data} did not complete it.
        """
        missing = self._bulkMissing
        if len(data) < missing:
            self._bulkPieces.append(data)
            self._bulkMissing = missing - len(data)
            return None
        self._bulkPieces.append(data[:missing])
        whole = b"".join(self._bulkPieces)
        self._bulkPieces = []
        self._bulkMissing = 0
        if whole[-2:] != _CRLF:
            raise RedisProtocolError("a bulk string not followed by CRLF")
        self._deliver(whole[:-2], replies)
        return data[missing:]
