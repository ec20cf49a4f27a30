# -*- test-case-name: tests.redis.test_reconnect -*-
"""
A connection to Redis that keeps itself up: what L{RedisClient} and
L{RedisSubscriber} share.

Theory of operation
===================

The connection is in one of four states::

    CONNECTING --ready--> CONNECTED --lost--> CONNECTING (at once)
        |                                        |
        +--failed or connectTimeout--> WAITING --+--backoff elapsed--> CONNECTING
    any state --close()--> CLOSED

An attempt is the TCP (or UNIX) connect and then the handshake: the
subclass's first commands (C{AUTH}, C{SELECT}, the subscriptions; at least a
C{PING}, so that a server that takes connections but cannot answer -- full,
loading, or not Redis at all -- is not taken for a working one).  The whole
attempt must finish within C{connectTimeout}.  A failed attempt waits as
L{Backoff} says, longer after each failure in a row; a connection that was up
and is lost is retried at once.

Nothing waits for the connection: while it is not CONNECTED, a command fails
at once with L{RedisUnavailable} (the subclasses do this), and
L{whenConnected} is the one way to wait, with a timeout.

An outage is logged twice, whatever the number of attempts in it: one line
when it starts (the address, never the password, and the reason) and one when
it ends (how long it lasted, and how many commands failed meanwhile).

L{close} stops the reconnecting, lets the commands in flight be answered (or
time out), closes the connection and fires once it is closed, so no socket or
timer is left behind.  The same happens when the object, an
L{twisted.application.service.IService}, is stopped by its parent service
(twistd stops it that way on shutdown).  A closed object stays closed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, TypedDict

from twisted.application.service import Service
from twisted.internet.defer import Deferred, FirstError, fail, gatherResults, succeed
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    UNIXClientEndpoint,
)
from twisted.internet.error import ConnectingCancelledError
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from ratchet_tx.redis.backoff import Backoff
from ratchet_tx.redis.errors import RedisError, RedisUnavailable
from ratchet_tx.redis.protocol import RedisProtocol
from ratchet_tx.redis.resp import (
    MAX_ARRAY_LENGTH,
    MAX_BULK_LENGTH,
    MAX_DEPTH,
    Argument,
    ReplyParser,
)
from ratchet_tx.redis.url import RedisAddress, parseRedisURL

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint

#: How long one attempt to connect may take, handshake included, in seconds.
CONNECT_TIMEOUT = 5.0

#: How long a reply may take, in seconds.
COMMAND_TIMEOUT = 5.0

_log = Logger()


class ConnectionOptions(TypedDict, total=False):
    """
    The options L{RedisClient} and L{RedisSubscriber} share, passed on to
    L{ReconnectingRedis.__init__} (which documents them).
    """

    connectTimeout: float
    commandTimeout: float
    backoff: Backoff | None
    maxBulkLength: int
    maxArrayLength: int
    maxDepth: int
    endpoint: IStreamClientEndpoint | None


class State(Enum):
    """Where a L{ReconnectingRedis} is (see the module docstring)."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"
    CLOSED = "closed"


def endpointFor(reactor: Any, address: RedisAddress, timeout: float) -> IStreamClientEndpoint:
    """
    The endpoint that connects to C{address}: UNIX for a path, TCP for an
    IP address (no name lookup), L{HostnameEndpoint} for a name.
    """
    if address.path is not None:
        return UNIXClientEndpoint(reactor, address.path, timeout=timeout)
    assert address.host is not None and address.port is not None
    try:
        ip = ipaddress.ip_address(address.host)
    except ValueError:
        return HostnameEndpoint(reactor, address.host, address.port, timeout=timeout)
    if ip.version == 6:
        return TCP6ClientEndpoint(reactor, address.host, address.port, timeout=timeout)
    return TCP4ClientEndpoint(reactor, address.host, address.port, timeout=timeout)


class _Factory(Factory):
    # Quiet: a reconnecting client would log "Starting factory" each time.
    noisy = False

    def __init__(self, build: Callable[[], RedisProtocol]) -> None:
        self._build = build

    def buildProtocol(self, addr: object) -> RedisProtocol:
        return self._build()


def _reasonOf(failure: Failure) -> str:
    """Why an attempt failed, for a log line."""
    value = failure.value
    if isinstance(value, ConnectingCancelledError):
        return "connection attempt cancelled"
    return (str(value) or type(value).__name__).rstrip(".")


class ReconnectingRedis(Service):
    """
    The connection-keeping part of L{RedisClient} and L{RedisSubscriber}
    (see the module docstring); not used on its own.

    @ivar address: the server, as parsed from the URL.
    @ivar connectTimeout: how long one attempt to connect may take, in
        seconds, handshake included.
    @ivar commandTimeout: how long a reply may take, in seconds.
    @ivar backoff: the waits between failed attempts.
    """

    #: What the log lines call it.
    _role = "connection"

    def __init__(
        self,
        reactor: Any,
        url: str | RedisAddress,
        *,
        connectTimeout: float = CONNECT_TIMEOUT,
        commandTimeout: float = COMMAND_TIMEOUT,
        backoff: Backoff | None = None,
        maxBulkLength: int = MAX_BULK_LENGTH,
        maxArrayLength: int = MAX_ARRAY_LENGTH,
        maxDepth: int = MAX_DEPTH,
        endpoint: IStreamClientEndpoint | None = None,
    ) -> None:
        """
        Start connecting to C{url}.

        @param reactor: the reactor (its clock and its connections).
        @param url: C{redis://[[user]:password@]host[:port][/db]} or
            C{unix:///path?db=N} (see L{ratchet_tx.redis.url}), or a
            L{RedisAddress}.
        @param connectTimeout: how long one attempt to connect may take, in
            seconds, its handshake (C{AUTH}, C{SELECT}, subscriptions)
            included.
        @param commandTimeout: how long a reply may take, in seconds.
        @param backoff: the waits between failed attempts to connect.
        @param maxBulkLength: the longest bulk string accepted in a reply
            (see L{ReplyParser}).
        @param maxArrayLength: the most elements an array reply may have.
        @param maxDepth: how deeply array replies may nest.
        @param endpoint: an L{IStreamClientEndpoint} to connect with instead
            of the one for the address (which is still used for the
            handshake and the logs).
        @raise ValueError: the URL is invalid, or a timeout is not positive.
        """
        if connectTimeout <= 0 or commandTimeout <= 0:
            raise ValueError("connectTimeout and commandTimeout must be positive")
        self.address = url if isinstance(url, RedisAddress) else parseRedisURL(url)
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.backoff = backoff if backoff is not None else Backoff()
        self._clock: IReactorTime = reactor
        self._parserLimits = {
            "maxBulkLength": maxBulkLength,
            "maxArrayLength": maxArrayLength,
            "maxDepth": maxDepth,
        }
        self._endpoint = endpoint or endpointFor(reactor, self.address, connectTimeout)
        self._name = str(self.address)
        self._state = State.CONNECTING
        # The connection, once its handshake is done.
        self._protocol: RedisProtocol | None = None
        # The attempt in progress: its Deferred, its connection once there
        # is one (during the handshake), its timer, and why it failed when
        # we made it fail (a timeout, close).
        self._attempt: Deferred[Any] | None = None
        self._attemptProtocol: RedisProtocol | None = None
        self._attemptTimer: IDelayedCall | None = None
        self._attemptError: str | None = None
        self._retryTimer: IDelayedCall | None = None
        self._failures = 0
        self._lastReason = "not connected yet"
        self._outageSince: float | None = None
        self._outageFailed = 0
        self._waiters: dict[Deferred[Any], IDelayedCall] = {}
        # Every connection whose transport is not closed yet, and the
        # callers of close() waiting for none to be left.
        self._open: set[RedisProtocol] = set()
        self._closeWaiters: list[Deferred[None]] = []
        self._connect()

    # The state, and waiting for it.

    @property
    def connected(self) -> bool:
        """The connection is up and ready for commands."""
        return self._state is State.CONNECTED

    @property
    def state(self) -> State:
        """Where the connection is: a L{State}."""
        return self._state

    def whenConnected(self, timeout: float | None = None) -> Deferred[Any]:
        """
        Wait until the connection is up (at once if it is).

        @param timeout: how long to wait, in seconds; by default
            C{connectTimeout}.
        @return: a Deferred that fires with this object, or fails with
            L{RedisUnavailable} when C{timeout} passes first (its message
            says why the last attempt failed) or the object is closed.
        """
        if self._state is State.CONNECTED:
            return succeed(self)
        if self._state is State.CLOSED:
            return fail(RedisUnavailable(f"{self._role} to {self._name} is closed"))
        wait = self.connectTimeout if timeout is None else timeout

        def cancel(d: Deferred[Any]) -> None:
            self._waiters.pop(d).cancel()

        waiter: Deferred[Any] = Deferred(cancel)

        def expire() -> None:
            del self._waiters[waiter]
            waiter.errback(
                RedisUnavailable(
                    f"not connected to {self._name} within {wait:g} s: {self._lastReason}"
                )
            )

        self._waiters[waiter] = self._clock.callLater(wait, expire)
        return waiter

    def _releaseWaiters(self, error: Exception | None) -> None:
        waiters, self._waiters = self._waiters, {}
        for waiter, timer in waiters.items():
            timer.cancel()
            if error is None:
                waiter.callback(self)
            else:
                waiter.errback(error)

    def refused(self) -> RedisUnavailable:
        """
        The error for a command refused because there is no connection; it
        is counted among the commands failed during the outage.
        """
        if self._outageSince is not None:
            self._outageFailed += 1
        if self._state is State.CLOSED:
            return RedisUnavailable(f"{self._role} to {self._name} is closed")
        return RedisUnavailable(f"not connected to {self._name}: {self._lastReason}")

    # What subclasses provide.

    def makeProtocol(self) -> RedisProtocol:
        """A new, unconnected protocol for one attempt."""
        return RedisProtocol(
            self._clock, self.commandTimeout, ReplyParser(**self._parserLimits), self._name
        )

    def sendHandshake(self, protocol: RedisProtocol) -> list[Deferred[Any]]:
        """
        Send the commands a new connection needs before it is ready
        (L{handshakeCommand} each); by default C{AUTH} when the address has
        a password.  With none, a C{PING} is sent.

        @return: their Deferreds; the connection is ready once all fired.
        """
        address = self.address
        if address.password is None:
            return []
        if address.username is None:
            return [self.handshakeCommand(protocol, ("AUTH", address.password))]
        return [self.handshakeCommand(protocol, ("AUTH", address.username, address.password))]

    def handshakeCommand(
        self,
        protocol: RedisProtocol,
        args: tuple[Argument, ...],
        replies: int = 1,
        kind: bytes | None = None,
    ) -> Deferred[Any]:
        """
        Send one handshake command; an error reply fails it with a
        L{RedisUnavailable} that names the command (never its arguments).
        """
        return protocol.sendCommand(args, replies, kind).addErrback(_explainHandshake, str(args[0]))

    def connectionReady(self, protocol: RedisProtocol) -> None:
        """The connection's handshake is done; it is now the one in use."""

    def connectionGone(self) -> None:
        """The connection in use is gone (before the reconnect begins)."""

    # Attempts.

    def _build(self) -> RedisProtocol:
        # Called once the connection is made: every protocol built has a
        # transport to close.
        protocol = self.makeProtocol()
        protocol.onLost = lambda reason, failed: self._lost(protocol, reason, failed)
        protocol.onClosed = lambda: self._transportClosed(protocol)
        self._open.add(protocol)
        return protocol

    def _connect(self) -> None:
        self._state = State.CONNECTING
        self._attemptError = None
        self._attemptTimer = self._clock.callLater(self.connectTimeout, self._attemptTimedOut)
        attempt: Deferred[Any] = self._endpoint.connect(_Factory(self._build))
        self._attempt = attempt
        attempt.addCallback(self._connectionMade)
        attempt.addCallbacks(self._ready, self._attemptFailed)

    def _connectionMade(self, protocol: RedisProtocol) -> Deferred[Any]:
        self._attemptProtocol = protocol
        commands = self.sendHandshake(protocol) or [self.handshakeCommand(protocol, ("PING",))]
        handshake = gatherResults(commands, consumeErrors=True)
        handshake.addErrback(_firstError)
        return handshake.addCallback(lambda _: protocol)

    def _stopAttempt(self, error: str) -> None:
        """Make the attempt in progress fail because of C{error}."""
        self._attemptError = error
        if self._attemptProtocol is not None:
            self._attemptProtocol.drop(error)
        elif self._attempt is not None:
            self._attempt.cancel()

    def _attemptTimedOut(self) -> None:
        self._attemptTimer = None
        self._stopAttempt(f"not ready within the connect timeout of {self.connectTimeout:g} s")

    def _endAttempt(self) -> RedisProtocol | None:
        if self._attemptTimer is not None:
            self._attemptTimer.cancel()
            self._attemptTimer = None
        protocol = self._attemptProtocol
        self._attempt = None
        self._attemptProtocol = None
        return protocol

    def _ready(self, protocol: RedisProtocol) -> None:
        self._endAttempt()
        if self._state is State.CLOSED:
            protocol.closeWhenIdle()
            return
        self._protocol = protocol
        self._state = State.CONNECTED
        self._failures = 0
        if self._outageSince is not None:
            _log.info(
                "Redis {role} connected to {address} after {duration:.1f} s unavailable; "
                "commands failed meanwhile: {failed}",
                role=self._role,
                address=self._name,
                duration=self._clock.seconds() - self._outageSince,
                failed=self._outageFailed,
            )
            self._outageSince = None
        self.connectionReady(protocol)
        self._releaseWaiters(None)

    def _attemptFailed(self, failure: Failure) -> None:
        protocol = self._endAttempt()
        reason = self._attemptError or _reasonOf(failure)
        if protocol is not None:
            # A handshake that failed leaves a connection to drop; its
            # loss is not a lost connection in use.
            protocol.drop(reason)
        if self._state is State.CLOSED:
            self._maybeClosed()
            return
        self._outage(reason)
        self._failures += 1
        self._state = State.WAITING
        self._retryTimer = self._clock.callLater(self.backoff.delay(self._failures), self._retry)

    def _retry(self) -> None:
        self._retryTimer = None
        self._connect()

    def _outage(self, reason: str) -> None:
        self._lastReason = reason
        if self._outageSince is None:
            self._outageSince = self._clock.seconds()
            self._outageFailed = 0
            _log.warn(
                "Redis {role} unavailable at {address} ({reason}); reconnecting with backoff",
                role=self._role,
                address=self._name,
                reason=reason,
            )

    def _lost(self, protocol: RedisProtocol, reason: str, failed: int) -> None:
        if protocol is not self._protocol:
            return
        self._protocol = None
        if self._state is State.CLOSED:
            return
        self._outage(reason)
        self._outageFailed += failed
        self.connectionGone()
        self._connect()

    # Closing.

    def close(self) -> Deferred[None]:
        """
        Stop reconnecting and close: commands in flight are still answered
        (or time out), new ones fail with L{RedisUnavailable}.

        @return: a Deferred that fires once the connection is closed.
        """
        done: Deferred[None] = Deferred()
        self._closeWaiters.append(done)
        if self._state is not State.CLOSED:
            self._state = State.CLOSED
            if self._retryTimer is not None:
                self._retryTimer.cancel()
                self._retryTimer = None
            self._releaseWaiters(RedisUnavailable(f"{self._role} to {self._name} is closed"))
            if self._protocol is not None:
                self._protocol.closeWhenIdle()
            if self._attempt is not None:
                self._stopAttempt("closed")
        self._maybeClosed()
        return done

    def _transportClosed(self, protocol: RedisProtocol) -> None:
        self._open.discard(protocol)
        self._maybeClosed()

    def _maybeClosed(self) -> None:
        """Fire L{close}'s Deferreds once no attempt or transport is left."""
        if self._state is not State.CLOSED or self._attempt is not None or self._open:
            return
        waiters, self._closeWaiters = self._closeWaiters, []
        for waiter in waiters:
            waiter.callback(None)

    def stopService(self) -> Deferred[None]:
        """Close (see L{close}); the service is done once the connection is."""
        Service.stopService(self)
        return self.close()


def _firstError(failure: Failure) -> Failure:
    """The failure of the first handshake command that failed."""
    if failure.check(FirstError):
        return failure.value.subFailure
    return failure


def _explainHandshake(failure: Failure, command: str) -> Failure:
    """A handshake command's error reply, with the command in its message."""
    if failure.check(RedisError):
        return Failure(RedisUnavailable(f"{command} failed: {failure.value}"))
    return failure
