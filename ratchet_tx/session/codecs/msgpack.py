# -*- test-case-name: tests.session.test_msgpack -*-
"""
MessagePack, decoded without a MessagePack library, bounded and without
recursion: what Flask-Session (0.8, with C{msgspec}'s encoder) stores its
server-side sessions as.

Theory of operation
===================

One byte says what follows (the MessagePack specification's table)::

  0x00-0x7f, 0xe0-0xff  fixint               0xc0 nil   0xc2/0xc3 false/true
  0xcc-0xcf, 0xd0-0xd3  (u)int 8/16/32/64    0xca/0xcb  float 32/64
  0xa0-0xbf, 0xd9-0xdb  str (UTF-8)          0xc4-0xc6  bin          -> bytes
  0x90-0x9f, 0xdc/0xdd  array                -> list
  0x80-0x8f, 0xde/0xdf  map                  -> dict (keys must be hashable)
  0xd4-0xd8, 0xc7-0xc9  ext (type, data)     -> ExtType, or datetime for type -1

Arrays and maps are read with an explicit stack of open frames bounded by
L{Limits.maxDepth}; every value counts against L{Limits.maxElements}; a
declared length is checked against the bytes left before anything is made.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.errors import MalformedSession

#: The extension type of MessagePack's timestamps.
TIMESTAMP_TYPE = -1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ExtType:
    """An application-defined MessagePack extension: its type code and data."""

    code: int
    data: bytes


# Fixed-size values: (struct format, size).
_NUMBERS: dict[int, tuple[str, int]] = {
    0xCA: (">f", 4), 0xCB: (">d", 8),
    0xCC: (">B", 1), 0xCD: (">H", 2), 0xCE: (">I", 4), 0xCF: (">Q", 8),
    0xD0: (">b", 1), 0xD1: (">h", 2), 0xD2: (">i", 4), 0xD3: (">q", 8),
}
# Sized values: the width of their length field.
_STR = {0xD9: 1, 0xDA: 2, 0xDB: 4}
_BIN = {0xC4: 1, 0xC5: 2, 0xC6: 4}
_ARRAY = {0xDC: 2, 0xDD: 4}
_MAP = {0xDE: 2, 0xDF: 4}
_EXT = {0xC7: 1, 0xC8: 2, 0xC9: 4}
_FIXEXT = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
_CONSTANTS = {0xC0: None, 0xC2: False, 0xC3: True}
_WIDTHS = {1: ">B", 2: ">H", 4: ">I"}


def _timestamp(data: bytes) -> datetime:
    if len(data) == 4:
        (seconds,) = struct.unpack(">I", data)
        nanoseconds = 0
    elif len(data) == 8:
        (packed,) = struct.unpack(">Q", data)
        nanoseconds, seconds = packed >> 34, packed & (2**34 - 1)
    elif len(data) == 12:
        nanoseconds, seconds = struct.unpack(">Iq", data)
    else:
        raise MalformedSession("a timestamp of a size MessagePack does not have")
    if nanoseconds >= 10**9:
        raise MalformedSession("a timestamp with too many nanoseconds")
    try:
        return _EPOCH + timedelta(seconds=seconds, microseconds=nanoseconds // 1000)
    except OverflowError:
        raise MalformedSession("a timestamp out of range") from None


class _Frame:
    """An array or map being read."""

    __slots__ = ("container", "key", "remaining", "wantKey")

    def __init__(self, container: list[Any] | dict[Any, Any], remaining: int) -> None:
        self.container = container
        self.remaining = remaining
        self.wantKey = isinstance(container, dict)
        self.key: Any = None


class _Reader:
    def __init__(self, data: bytes, limits: Limits) -> None:
        limits.checkSize(len(data))
        self.data = data
        self.limits = limits
        self.position = 0
        self.values = 0

    def take(self, size: int) -> bytes:
        end = self.position + size
        if end > len(self.data):
            raise MalformedSession("truncated MessagePack data")
        chunk = self.data[self.position : end]
        self.position = end
        return chunk

    def length(self, width: int) -> int:
        return int(struct.unpack(_WIDTHS[width], self.take(width))[0])

    def count(self, declared: int, minimumSize: int) -> int:
        if declared > self.limits.maxElements:
            raise MalformedSession(f"{declared} elements is over the limit")
        if declared * minimumSize > len(self.data) - self.position:
            raise MalformedSession(f"{declared} elements cannot fit in what is left")
        return declared

    def value(self) -> tuple[Any, _Frame | None]:
        """The next scalar, or the container it opens and its frame."""
        self.values += 1
        if self.values > self.limits.maxElements:
            raise MalformedSession(f"more than {self.limits.maxElements} values")
        kind = self.take(1)[0]
        if kind <= 0x7F:
            return kind, None
        if kind >= 0xE0:
            return kind - 0x100, None
        if kind in _CONSTANTS:
            return _CONSTANTS[kind], None
        if kind in _NUMBERS:
            form, size = _NUMBERS[kind]
            return struct.unpack(form, self.take(size))[0], None
        if 0xA0 <= kind <= 0xBF or kind in _STR:
            size = kind & 0x1F if kind <= 0xBF else self.length(_STR[kind])
            try:
                return self.take(size).decode("utf-8"), None
            except UnicodeDecodeError:
                raise MalformedSession("a MessagePack str that is not UTF-8") from None
        if kind in _BIN:
            return self.take(self.length(_BIN[kind])), None
        if 0x90 <= kind <= 0x9F or kind in _ARRAY:
            size = kind & 0x0F if kind <= 0x9F else self.length(_ARRAY[kind])
            array: list[Any] = []
            return array, _Frame(array, self.count(size, 1))
        if 0x80 <= kind <= 0x8F or kind in _MAP:
            size = kind & 0x0F if kind <= 0x8F else self.length(_MAP[kind])
            mapping: dict[Any, Any] = {}
            return mapping, _Frame(mapping, self.count(size, 2))
        if kind in _FIXEXT or kind in _EXT:
            size = _FIXEXT[kind] if kind in _FIXEXT else self.length(_EXT[kind])
            (code,) = struct.unpack(">b", self.take(1))
            data = self.take(size)
            return (_timestamp(data) if code == TIMESTAMP_TYPE else ExtType(code, data)), None
        raise MalformedSession(f"0x{kind:02x} is not a MessagePack type")


def unpackb(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """
    Decode exactly one MessagePack value that is all of C{data}.

    @raise MalformedSession: if it is not, or is over C{limits}.
    """
    reader = _Reader(data, limits)
    stack: list[_Frame] = []
    while True:
        if stack and not stack[-1].remaining:
            value: Any = stack.pop().container
            opened = None
        else:
            value, opened = reader.value()
            if opened is not None:
                if len(stack) >= limits.maxDepth:
                    raise MalformedSession(f"nested deeper than {limits.maxDepth}")
                stack.append(opened)
                continue
        if not stack:
            if reader.position != len(data):
                raise MalformedSession("data after the value")
            return value
        _add(stack[-1], value)


def _add(frame: _Frame, value: Any) -> None:
    container = frame.container
    if isinstance(container, list):
        container.append(value)
        frame.remaining -= 1
    elif frame.wantKey:
        try:
            hash(value)
        except TypeError:
            raise MalformedSession("a map key that cannot be a dict key") from None
        frame.key = value
        frame.wantKey = False
    else:
        container[frame.key] = value
        frame.wantKey = True
        frame.remaining -= 1
