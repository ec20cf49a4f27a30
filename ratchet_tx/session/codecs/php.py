# -*- test-case-name: tests.session.test_php -*-
"""
PHP's C{unserialize()} (PHP 8.2, C{ext/standard/var_unserializer.re}),
bounded, without recursion and without running any PHP: objects are never
instantiated, only described.

Theory of operation
===================

The grammar, one value at a time::

    N;                                null                 -> None
    b:0;  b:1;                        bool                 -> bool
    i:-12;                            int (64-bit)         -> int
    d:0.5;  d:1.0E+25;  d:INF;  d:-INF;  d:NAN;  d:-0;     -> float
    s:5:"bytes";                      string (a byte count) -> str, or bytes if not UTF-8
    a:2:{KEY VALUE KEY VALUE}         array (ordered map)  -> dict
    O:8:"stdClass":1:{KEY VALUE}      object               -> PHPObject (a dict + className)
    C:3:"Foo":4:{data}                Serializable object  -> PHPCustomObject(className, data)
    E:7:"Suit:Hearts";                enum case            -> PHPEnum(className, case)
    r:3;                              the 3rd value again (an object, shared)
    R:3;                              a PHP reference to the 3rd value (shared)

KEY is C{i:...;} or C{s:...;}.  As in PHP, an array's string key that is a
canonical decimal integer becomes an int, and an object's int key a string;
a later duplicate key replaces the earlier one.  Object property names stay
as PHP stores them: C{"\\0*\\0name"} for protected, C{"\\0Class\\0name"}
for private properties.

Every value but C{R:} takes the next slot (numbered from 1) that C{r:} and
C{R:} refer to; a container takes its slot when it opens, so a reference may
point to an enclosing container (a cycle, as in PHP).

Containers are parsed with an explicit stack of open frames, bounded by
L{Limits.maxDepth}; every value counts against L{Limits.maxElements}; the
input against L{Limits.maxSize}.  Anything else, or anything PHP would
refuse, raises L{MalformedSession}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.errors import MalformedSession


class PHPObject(dict[Any, Any]):
    """
    A PHP object, described: its properties as a C{dict}, plus C{className}.
    Never an instance of anything PHP defined.
    """

    __slots__ = ("className",)

    def __init__(self, className: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.className = className

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PHPObject):
            return self.className == other.className and dict.__eq__(self, other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None

    def __repr__(self) -> str:
        return f"PHPObject({self.className!r}, {dict.__repr__(self)})"


@dataclass(frozen=True)
class PHPCustomObject:
    """
    An object of a class implementing PHP's C{Serializable}: C{data} is
    whatever its C{serialize()} method returned, not interpreted.
    """

    className: str
    data: bytes


@dataclass(frozen=True)
class PHPEnum:
    """A case of a PHP 8.1 enum: C{Suit::Hearts} is C{PHPEnum("Suit", "Hearts")}."""

    className: str
    case: str


#: What C{r:} may refer to: PHP accepts only objects there.
_OBJECTS = (PHPObject, PHPCustomObject, PHPEnum)

_INT = re.compile(rb"i:([+-]?[0-9]+);")
_FLOAT = re.compile(rb"d:(NAN|-?INF|[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?);")
_BOOL = re.compile(rb"b:([01]);")
_STRING = re.compile(rb's:([0-9]+):"')
_ARRAY = re.compile(rb"a:([0-9]+):\{")
_CLASS = re.compile(rb'[OCE]:([0-9]+):"')
_COUNT = re.compile(rb'":([+-]?[0-9]+):\{')
_REFERENCE = re.compile(rb"[rR]:([0-9]+);")
_CLASS_NAME = re.compile(rb"[A-Za-z0-9_\x80-\xff][A-Za-z0-9_\x80-\xff\\]*")
_CANONICAL_INT = re.compile(r"-?[1-9][0-9]*|0")

#: Decimal digits of the largest 64-bit integer.
_MAX_DIGITS = 19
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
#: The fewest bytes one element of an array or object takes (C{i:0;N;}).
_MIN_ELEMENT_SIZE = 6


def decodeString(raw: bytes) -> str | bytes:
    """A PHP string as C{str} when it is UTF-8 (nearly always), else C{bytes}."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _number(digits: bytes) -> int:
    sign = -1 if digits[:1] == b"-" else 1
    magnitude = digits.lstrip(b"+-").lstrip(b"0")
    if len(magnitude) > _MAX_DIGITS:
        raise MalformedSession("integer out of range")
    value = sign * int(magnitude or b"0")
    if not _INT_MIN <= value <= _INT_MAX:
        raise MalformedSession("integer out of range")
    return value


def _arrayKey(key: int | str | bytes) -> int | str | bytes:
    # PHP's ZEND_HANDLE_NUMERIC: "12" is the key 12, "012" and "-0" are not.
    if isinstance(key, str) and _CANONICAL_INT.fullmatch(key):
        value = int(key)
        if _INT_MIN <= value <= _INT_MAX:
            return value
    return key


class _Frame:
    """An array or object being read: how many elements are still to come."""

    __slots__ = ("container", "isObject", "remaining")

    def __init__(self, container: dict[Any, Any], remaining: int) -> None:
        self.container = container
        self.isObject = isinstance(container, PHPObject)
        self.remaining = remaining


class Unserializer:
    """
    Reads serialized PHP values out of one buffer, sharing one table of
    slots between them (as PHP's session decoders do for the variables of a
    session).

    @ivar position: where the next value starts.
    """

    def __init__(self, data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
        """
        @raise MalformedSession: if C{data} is over C{limits.maxSize}.
        """
        limits.checkSize(len(data))
        self.data = data
        self.limits = limits
        self.position = 0
        self._slots: list[Any] = []
        self._values = 0

    @property
    def atEnd(self) -> bool:
        """Whether every byte has been read."""
        return self.position >= len(self.data)

    def read(self) -> Any:
        """
        Read the value at L{position} and move past it.

        @raise MalformedSession: if it is malformed, truncated, or over a limit.
        """
        stack: list[_Frame] = []
        while True:
            key: Any = None
            if stack:
                frame = stack[-1]
                if not frame.remaining:
                    self._expect(b"}")
                    stack.pop()
                    if stack:
                        continue
                    return frame.container
                frame.remaining -= 1
                key = self._key(frame.isObject)
            value, opened = self._value()
            if stack:
                stack[-1].container[key] = value
            if opened is not None:
                if len(stack) >= self.limits.maxDepth:
                    raise MalformedSession(f"nested deeper than {self.limits.maxDepth}")
                stack.append(opened)
            elif not stack:
                return value

    # One value.

    def _count(self) -> None:
        self._values += 1
        if self._values > self.limits.maxElements:
            raise MalformedSession(f"more than {self.limits.maxElements} values")

    def _push(self, value: Any) -> Any:
        self._slots.append(value)
        return value

    def _value(self) -> tuple[Any, _Frame | None]:
        """
        The scalar at L{position}, or the container it opens (with the frame
        to read its elements into).
        """
        self._count()
        data, at = self.data, self.position
        kind = data[at : at + 1]
        if kind == b"N":
            self._expect(b"N;")
            return self._push(None), None
        if kind == b"b":
            match = self._match(_BOOL)
            return self._push(match[1] == b"1"), None
        if kind == b"i":
            return self._push(_number(self._match(_INT)[1])), None
        if kind == b"d":
            return self._push(float(self._match(_FLOAT)[1])), None
        if kind == b"s":
            return self._push(decodeString(self._string())), None
        if kind == b"a":
            count = self._elements(_number(self._match(_ARRAY)[1]))
            array: dict[Any, Any] = self._push({})
            return array, _Frame(array, count)
        if kind in (b"O", b"C"):
            return self._object(kind)
        if kind == b"E":
            return self._push(self._enum()), None
        if kind in (b"r", b"R"):
            return self._reference(kind), None
        raise MalformedSession(f"unexpected {kind!r} at byte {at}")

    def _reference(self, kind: bytes) -> Any:
        index = _number(self._match(_REFERENCE)[1]) - 1
        if not 0 <= index < len(self._slots):
            raise MalformedSession("reference to a value that does not exist")
        target = self._slots[index]
        if kind == b"r":
            # PHP writes r: for objects only, and reads nothing else there.
            if not isinstance(target, _OBJECTS):
                raise MalformedSession("r: reference to a value that is not an object")
            return self._push(target)
        return target

    def _object(self, kind: bytes) -> tuple[Any, _Frame | None]:
        className = self._className()
        countMatch = self._match(_COUNT)
        if kind == b"O":
            count = self._elements(_number(countMatch[1]))
            obj = self._push(PHPObject(className))
            return obj, _Frame(obj, count)
        size = _number(countMatch[1])
        start = self.position
        end = start + size
        if size < 0 or end >= len(self.data) or self.data[end : end + 1] != b"}":
            raise MalformedSession("truncated custom object")
        self.position = end + 1
        return self._push(PHPCustomObject(className, self.data[start:end])), None

    def _enum(self) -> PHPEnum:
        name = self._sized(_CLASS, b'";')
        className, colon, case = name.partition(b":")
        if not colon or not _CLASS_NAME.fullmatch(className) or not case:
            raise MalformedSession("malformed enum case")
        return PHPEnum(_name(className), _name(case))

    # Pieces.

    def _key(self, isObject: bool) -> Any:
        kind = self.data[self.position : self.position + 1]
        if kind == b"i":
            key: Any = _number(self._match(_INT)[1])
            return str(key) if isObject else key
        if kind == b"s":
            key = decodeString(self._string())
            return key if isObject else _arrayKey(key)
        raise MalformedSession("an array or object key must be an int or a string")

    def _className(self) -> str:
        name = self._sized(_CLASS, b'"')
        self.position -= 1  # the closing quote starts the count that follows
        if not _CLASS_NAME.fullmatch(name):
            raise MalformedSession("invalid class name")
        return _name(name)

    def _string(self) -> bytes:
        return self._sized(_STRING, b'";')

    def _sized(self, head: re.Pattern[bytes], tail: bytes) -> bytes:
        """The bytes counted by C{head}'s length, followed by C{tail}."""
        size = _number(self._match(head)[1])
        start = self.position
        end = start + size
        if self.data[end : end + len(tail)] != tail:
            raise MalformedSession("a string's length does not match")
        self.position = end + len(tail)
        return self.data[start:end]

    def _elements(self, count: int) -> int:
        if count < 0 or count > self.limits.maxElements:
            raise MalformedSession(f"{count} elements is over the limit")
        if count * _MIN_ELEMENT_SIZE > len(self.data) - self.position:
            raise MalformedSession(f"{count} elements cannot fit in what is left")
        return count

    def _match(self, pattern: re.Pattern[bytes]) -> re.Match[bytes]:
        match = pattern.match(self.data, self.position)
        if match is None:
            raise MalformedSession(f"malformed value at byte {self.position}")
        self.position = match.end()
        return match

    def _expect(self, literal: bytes) -> None:
        end = self.position + len(literal)
        if self.data[self.position : end] != literal:
            raise MalformedSession(f"expected {literal!r} at byte {self.position}")
        self.position = end


def _name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def unserialize(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """
    PHP's C{unserialize(data)}: exactly one value, and nothing after it.

    @raise MalformedSession: if C{data} is not one serialized value within
        C{limits}.
    """
    reader = Unserializer(data, limits)
    value = reader.read()
    if not reader.atEnd:
        raise MalformedSession("data after the value")
    return value
