# -*- test-case-name: tests.session.test_phpsession -*-
"""
The three formats PHP's session module stores C{$_SESSION} in
(C{session.serialize_handler}; PHP 8.2, C{ext/session/session.c}), read
with L{ratchet_tx.session.codecs.php}'s bounded unserializer:

  - C{php} (the default): C{name|VALUE} for each variable, the name ending
    at the first C{"|"} (PHP refuses to write names containing one);
  - C{php_binary}: one byte holding the name's length (0-127; the high bit,
    an old "undefined" marker, is ignored as PHP ignores it), the name, then
    C{VALUE};
  - C{php_serialize}: C{serialize($_SESSION)}, one array.

The variables of one session share one table of reference slots.  An empty
string is an empty session in every format.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits
from ratchet_tx.session.codecs.php import Unserializer, decodeString
from ratchet_tx.session.errors import MalformedSession

_DELIMITER = b"|"
#: The bit of C{php_binary}'s length byte that once marked an unset variable.
_BINARY_UNDEFINED = 0x80


class SerializeHandler(Enum):
    """The values of PHP's C{session.serialize_handler}."""

    PHP = "php"
    PHP_BINARY = "php_binary"
    PHP_SERIALIZE = "php_serialize"


def decodeSession(
    data: bytes,
    handler: SerializeHandler | str = SerializeHandler.PHP,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[Any, Any]:
    """
    What C{session_decode(data)} makes C{$_SESSION}, under C{handler}.

    @return: the session's variables by name.
    @raise MalformedSession: if C{data} is not a session of that format, or
        is over C{limits}.
    """
    handler = SerializeHandler(handler)
    reader = Unserializer(data, limits)
    if handler is SerializeHandler.PHP_SERIALIZE:
        if reader.atEnd:
            return {}
        session = reader.read()
        if not reader.atEnd:
            raise MalformedSession("data after the session array")
        if type(session) is not dict:
            raise MalformedSession("a php_serialize session must be an array")
        return session
    variables: dict[Any, Any] = {}
    while not reader.atEnd:
        start = reader.position
        if handler is SerializeHandler.PHP:
            end = data.find(_DELIMITER, start)
            if end < 0:
                raise MalformedSession("a variable name without a value")
            name = data[start:end]
            reader.position = end + 1
        else:
            length = data[start] & ~_BINARY_UNDEFINED
            end = start + 1 + length
            if end >= len(data):
                raise MalformedSession("a variable name without a value")
            name = data[start + 1 : end]
            reader.position = end
        variables[decodeString(name)] = reader.read()
    return variables
