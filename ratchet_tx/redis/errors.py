# -*- test-case-name: tests.redis.test_errors -*-
"""
What can go wrong talking to Redis, as four exceptions.

    - L{RedisError}: Redis answered a command with an error reply
      (C{-ERR ...}, C{-WRONGTYPE ...}, C{-NOSCRIPT ...}).  The codec returns it
      as a value; the client fails that one command's Deferred with it, and
      the connection carries on.
    - L{RedisUnavailable}: the command was not answered because there is no
      usable connection: not connected yet, reconnecting, closed, too many
      commands in flight, or the connection dropped while it waited.  Whether
      Redis ran it is unknown when it was in flight.
    - L{RedisTimeout}: a L{RedisUnavailable} for a reply that did not come in
      time (the connection is then replaced: replies are matched to commands
      by order, so a late one would be taken for the next command's).
    - L{RedisProtocolError}: Redis (or whatever answered) broke RESP; the
      connection is dropped.  Commands are never failed with it: they fail
      with L{RedisUnavailable}.

Catching L{RedisUnavailable} covers every "Redis is not there right now"
case, timeouts included, which is what a caller that answers 503 needs.
"""

from __future__ import annotations

from collections.abc import Sequence


class RedisError(Exception):
    """
    An error reply from Redis.

    @ivar message: the reply's text, e.g. C{"WRONGTYPE Operation against a
        key holding the wrong kind of value"}.
    @ivar code: its first word when that is in capitals, as Redis's own
        errors are (C{"ERR"}, C{"WRONGTYPE"}, C{"NOSCRIPT"}, C{"NOAUTH"}),
        else C{""}.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        first = message.split(" ", 1)[0]
        self.code = first if first.isupper() else ""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RedisError):
            return NotImplemented
        return type(self) is type(other) and self.message == other.message

    def __hash__(self) -> int:
        return hash((type(self), self.message))

    def __repr__(self) -> str:
        return f"RedisError({self.message!r})"


class RedisUnavailable(Exception):
    """
    A command could not be answered: no usable connection to Redis.

    The message says why, with the server's address (never its password).
    """


class RedisTimeout(RedisUnavailable):
    """
    A reply did not come within the client's C{commandTimeout}.
    """


class RedisProtocolError(Exception):
    """
    The bytes from the server are not RESP2, or break a limit of the parser.

    @ivar replies: the replies the same C{feed} completed before the bad
        bytes, in order; they are valid and are delivered before the
        connection is dropped.
    """

    def __init__(self, message: str, replies: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.replies = replies
