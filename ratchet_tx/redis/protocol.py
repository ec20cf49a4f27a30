# -*- test-case-name: tests.redis.test_protocol -*-
"""
One connection to Redis: commands written at once, replies matched to them in
order, and one timer for all of them.

Redis answers the commands of one connection in the order it received them,
so the connection keeps a FIFO of the commands waiting for a reply
(L{RedisProtocol.sendCommand} appends, each reply pops the oldest).  Many
commands may be in flight at once (pipelining); each one's deadline is
C{commandTimeout} after it was sent, so the oldest has the earliest and a
single timer, set for the oldest's deadline and moved on lazily when it
fires, watches them all -- no timer per command.

A reply that does not come in time cannot be waited out: a late one would be
taken for the next command's.  So the connection is aborted, the oldest
command fails with L{RedisTimeout} and every other command in flight with
L{RedisUnavailable}; so does everything in flight when the connection is
lost for any other reason, or when Redis breaks the protocol (which the
owner logs, as the reason the connection was lost).

The owner (L{ratchet_tx.redis.client.RedisClient}, or the subscriber)
decides when to send; this class holds no policy about reconnecting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from ratchet_tx.redis.errors import RedisError, RedisProtocolError, RedisTimeout, RedisUnavailable
from ratchet_tx.redis.resp import Argument, Reply, ReplyParser, encodeCommand

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime


class Pending:
    """
    A command waiting for its reply (or replies).

    @ivar deferred: fires with the reply, or fails with it when it is an
        error reply, or with L{RedisUnavailable}.
    @ivar deadline: when it times out, in the clock's seconds.
    @ivar replies: how many replies it still waits for (a C{SUBSCRIBE} of
        three channels is answered three times).
    @ivar kind: what the replies must be, for owners that route them
        (the subscriber: C{b"subscribe"}, ...); C{None} for a plain reply.
    """

    __slots__ = ("deferred", "deadline", "replies", "kind")

    def __init__(
        self, deferred: Deferred[Any], deadline: float, replies: int, kind: bytes | None
    ) -> None:
        self.deferred = deferred
        self.deadline = deadline
        self.replies = replies
        self.kind = kind


class RedisProtocol(Protocol):
    """
    One RESP2 connection with commands matched to replies in order.

    @ivar pending: the commands waiting for replies, oldest first.
    @ivar onLost: called once, as soon as the connection is known to be
        gone (lost, or dropped by us), with why (C{"connection lost: ..."},
        C{"no reply within 5 s"}, C{"protocol error: ..."}) and how many
        commands fail because of it; then those commands fail: the one that
        timed out with L{RedisTimeout}, the others with L{RedisUnavailable},
        whose message is the server's name and the same reason.
    @ivar onClosed: called once the transport is closed (its
        C{connectionLost}), which may be later than L{onLost}.
    """

    def __init__(
        self,
        clock: IReactorTime,
        commandTimeout: float,
        parser: ReplyParser,
        name: str,
    ) -> None:
        """
        @param clock: for the deadlines.
        @param commandTimeout: how long a reply may take, in seconds.
        @param parser: parses what the server sends.
        @param name: the server, for error messages (no password in it).
        """
        self.clock = clock
        self.commandTimeout = commandTimeout
        self.parser = parser
        self.name = name
        self.onLost: Callable[[str, int], None] = lambda reason, failed: None
        self.onClosed: Callable[[], None] = lambda: None
        self.pending: deque[Pending] = deque()
        self._timer: IDelayedCall | None = None
        self._closeWhenIdle = False
        self._gone = False

    def connectionMade(self) -> None:
        """Set C{TCP_NODELAY} and keepalives, where the transport has them."""
        # Commands are small and pipelined: send each write at once.
        for option in ("setTcpNoDelay", "setTcpKeepAlive"):
            setter = getattr(self.transport, option, None)
            if setter is not None:
                setter(True)

    @property
    def usable(self) -> bool:
        """The connection can take commands: not gone, dropped or closing."""
        return not (self._gone or self._closeWhenIdle)

    def sendCommand(
        self, args: tuple[Argument, ...], replies: int = 1, kind: bytes | None = None
    ) -> Deferred[Any]:
        """
        Write one command now and wait for its reply.

        @param args: the command and its arguments.
        @param replies: how many replies answer it (the last one is the
            Deferred's result; an error reply ends it at once).
        @param kind: see L{Pending.kind}.
        @raise TypeError: an argument cannot be encoded.
        """
        data = encodeCommand(*args)
        deferred: Deferred[Any] = Deferred()
        if not self.usable:
            deferred.errback(RedisUnavailable(f"connection to {self.name} is closing"))
            return deferred
        self.transport.write(data)  # type: ignore[union-attr]
        self.pending.append(
            Pending(deferred, self.clock.seconds() + self.commandTimeout, replies, kind)
        )
        if self._timer is None:
            self._timer = self.clock.callLater(self.commandTimeout, self._checkDeadline)
        return deferred

    def dataReceived(self, data: bytes) -> None:
        """Parse C{data}; each reply completed goes to L{replyReceived}."""
        try:
            replies = self.parser.feed(data)
        except RedisProtocolError as e:
            self._deliver(e.replies)
            self.drop(f"protocol error: {e}")
            return
        self._deliver(replies)

    def _deliver(self, replies: Sequence[Reply] | Sequence[object]) -> None:
        for reply in replies:
            if self._gone:
                return
            self.replyReceived(reply)  # type: ignore[arg-type]

    def replyReceived(self, reply: Reply) -> None:
        """
        One reply arrived; by default it answers the oldest pending command.
        Subclasses route the replies that answer no command (pub/sub
        messages) and call this for the rest.
        """
        if not self.pending:
            self.drop(f"protocol error: a reply to no command: {_short(reply)}")
            return
        head = self.pending[0]
        if isinstance(reply, RedisError):
            self.pending.popleft()
            head.deferred.errback(reply)
        else:
            head.replies -= 1
            if head.replies:
                return
            self.pending.popleft()
            head.deferred.callback(reply)
        if self._closeWhenIdle and not self.pending and not self._gone:
            self.transport.loseConnection()  # type: ignore[union-attr]

    def closeWhenIdle(self) -> None:
        """
        Take no more commands, and close once every pending one is answered
        (or timed out).
        """
        self._closeWhenIdle = True
        if not self.pending and not self._gone:
            self.transport.loseConnection()  # type: ignore[union-attr]

    def drop(self, reason: str, timedOut: bool = False) -> None:
        """
        Abort the connection because of C{reason}: it is gone at once (see
        L{onLost}), and closed soon after (L{onClosed}).

        @param timedOut: the oldest command fails with L{RedisTimeout}.
        """
        if not self._gone:
            self.transport.abortConnection()  # type: ignore[union-attr]
            self._lose(reason, timedOut)

    def _checkDeadline(self) -> None:
        self._timer = None
        if not self.pending or self._gone:
            return
        now = self.clock.seconds()
        head = self.pending[0]
        if head.deadline > now:
            self._timer = self.clock.callLater(head.deadline - now, self._checkDeadline)
            return
        self.drop(f"no reply within {self.commandTimeout:g} s", timedOut=True)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """The connection is gone (if it was not already) and closed."""
        self._lose(f"connection lost: {reason.getErrorMessage().rstrip('.')}")
        self.onClosed()

    def _lose(self, reason: str, timedOut: bool = False) -> None:
        """
        The connection is gone because of C{reason}: tell the owner, then
        fail every pending command.
        """
        if self._gone:
            return
        self._gone = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self.pending = self.pending, deque()
        # The owner hears first, so that whatever the failures below make
        # their callbacks do already finds the connection gone.
        self.onLost(reason, len(pending))
        message = f"{self.name}: {reason}"
        if timedOut and pending:
            pending.popleft().deferred.errback(RedisTimeout(message))
        lost = RedisUnavailable(message)
        for command in pending:
            command.deferred.errback(lost)


def _short(reply: object) -> str:
    """A reply's repr, cut short for a log line."""
    text = repr(reply)
    return text if len(text) <= 80 else text[:77] + "..."
