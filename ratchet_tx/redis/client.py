# -*- test-case-name: tests.redis.test_client -*-
"""
A Redis client for Twisted: one connection, pipelined, that never blocks and
never queues without bound::

    client = RedisClient(reactor, "redis://:secret@127.0.0.1:6379/2")
    yield client.whenConnected()
    yield client.set("greeting", "hello")
    value = yield client.get("greeting")        # b"hello"
    yield client.close()

L{RedisClient.execute} writes the command at once and returns a Deferred of
its reply; commands from everywhere share the one connection, and their
replies are matched to them in order (pipelining: a thousand concurrent
C{GET}s cost one connection and about one round trip).  Replies are
C{bytes} (bulk strings), C{str} (simple strings such as C{"OK"}), C{int},
C{None} and C{list}s of them; an error reply fails that command's Deferred
with L{RedisError}, and the connection carries on.

Without a connection a command fails at once with L{RedisUnavailable}: the
client does not hold commands until Redis is back (that is an unbounded
queue, and a caller that waits for it hangs).  It connects and reconnects
by itself (see L{ratchet_tx.redis.reconnect}); at most C{maxPending}
commands may be in flight, and a reply that takes longer than
C{commandTimeout} fails with L{RedisTimeout} and replaces the connection.

Blocking commands (C{BLPOP}, C{XREAD BLOCK}, C{WAIT}) would hold up every
command behind them on the shared connection; do not send them here.  A
C{MULTI}/C{EXEC} transaction needs its commands back to back on one
connection, which pipelining from several callers does not promise: use a
Lua script (L{RedisClient.runScript}) for anything atomic.

Redis versions: RESP2, which every Redis speaks, C{EVALSHA} (2.6) and, for a
URL with a user name, C{AUTH user password} (6.0).  The reference, which the
tests run against, is Debian's C{redis-server} (7.0); Redis Cluster and
Sentinel are not supported, nor TLS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.redis.errors import RedisError, RedisUnavailable
from ratchet_tx.redis.interfaces import IRedisClient
from ratchet_tx.redis.protocol import RedisProtocol
from ratchet_tx.redis.reconnect import ConnectionOptions, ReconnectingRedis
from ratchet_tx.redis.resp import Argument
from ratchet_tx.redis.script import Script
from ratchet_tx.redis.url import RedisAddress

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: The most commands in flight (sent, not yet answered) on one client.
MAX_PENDING = 10_000


@implementer(IRedisClient)
class RedisClient(ReconnectingRedis):
    """
    One pipelined connection to Redis (see the module docstring).

    It is an L{twisted.application.service.IService}: give it a parent
    service and stopping the parent (twistd's shutdown) closes it; the
    connection is started when the client is made, not when the service is.

    @ivar maxPending: the most commands in flight at once.
    """

    _role = "client"

    def __init__(
        self,
        reactor: Any,
        url: str | RedisAddress,
        *,
        maxPending: int = MAX_PENDING,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        """
        Start connecting to C{url}.

        @param reactor: the reactor (its clock and its connections).
        @param url: C{redis://[[user]:password@]host[:port][/db]} or
            C{unix:///path?db=N} (see L{ratchet_tx.redis.url}), or a
            L{RedisAddress}.
        @param maxPending: the most commands in flight; more fail at once
            with L{RedisUnavailable}.
        @param options: C{connectTimeout}, C{commandTimeout}, C{backoff},
            C{maxBulkLength}, C{maxArrayLength}, C{maxDepth}, C{endpoint}:
            see L{ReconnectingRedis.__init__}.
        @raise ValueError: the URL is invalid, or an option is out of range.
        """
        if maxPending < 1:
            raise ValueError("maxPending must be at least 1")
        self.maxPending = maxPending
        super().__init__(reactor, url, **options)

    def sendHandshake(self, protocol: RedisProtocol) -> list[Deferred[Any]]:
        """C{AUTH} when there is a password, C{SELECT} for a database but 0."""
        commands = super().sendHandshake(protocol)
        if self.address.db:
            commands.append(self.handshakeCommand(protocol, ("SELECT", self.address.db)))
        return commands

    def execute(self, *args: Argument) -> Deferred[Any]:
        """
        Send one command now::

            client.execute("HSET", "user:1", "name", "alice")

        @param args: the command's name and arguments (C{bytes}; C{str} as
            UTF-8; C{int} and C{float} as decimal text).
        @return: a Deferred of the reply; it fails with L{RedisError} for an
            error reply, L{RedisTimeout} when no reply came within
            C{commandTimeout}, and L{RedisUnavailable} when there is no
            connection, C{maxPending} commands are in flight already, or the
            connection was lost before the reply.
        @raise TypeError: an argument cannot be sent (C{None}, a C{bool},
            another type), or there is none.
        """
        protocol = self._protocol
        if protocol is None or not protocol.usable:
            return fail(self.refused())
        if len(protocol.pending) >= self.maxPending:
            return fail(
                RedisUnavailable(
                    f"{self.maxPending} commands already wait for {self._name} (maxPending)"
                )
            )
        return protocol.sendCommand(args)

    def runScript(
        self, script: Script, keys: Sequence[Argument] = (), args: Sequence[Argument] = ()
    ) -> Deferred[Any]:
        """
        Run a Lua script atomically: C{EVALSHA}, and C{EVAL} (which caches
        it) when the server does not know the script yet.

        @param script: the L{Script}.
        @param keys: the keys it touches (C{KEYS} in Lua).
        @param args: its other arguments (C{ARGV} in Lua).
        @return: a Deferred of what the script returns, as L{execute}'s.
        """
        keys = tuple(keys)
        rest = (len(keys), *keys, *args)

        def notLoaded(failure: Failure) -> Any:
            if failure.check(RedisError) and failure.value.code == "NOSCRIPT":
                return self.execute("EVAL", script.source, *rest)
            return failure

        return self.execute("EVALSHA", script.sha1, *rest).addErrback(notLoaded)

    # Thin conveniences: one command each, the reply as Redis gives it.

    def ping(self) -> Deferred[Any]:
        """C{PING}: fires with C{"PONG"}."""
        return self.execute("PING")

    def get(self, key: Argument) -> Deferred[Any]:
        """C{GET key}: fires with the value's C{bytes}, or C{None}."""
        return self.execute("GET", key)

    def set(
        self,
        key: Argument,
        value: Argument,
        *,
        ex: int | None = None,
        px: int | None = None,
        nx: bool = False,
        xx: bool = False,
    ) -> Deferred[Any]:
        """
        C{SET key value [EX s | PX ms] [NX | XX]}: fires with C{"OK"}, or
        C{None} when C{nx}/C{xx} prevented it.
        """
        args: list[Argument] = ["SET", key, value]
        if ex is not None:
            args += ["EX", ex]
        if px is not None:
            args += ["PX", px]
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        return self.execute(*args)

    def delete(self, *keys: Argument) -> Deferred[Any]:
        """C{DEL key...}: fires with how many keys existed."""
        return self.execute("DEL", *keys)

    def expire(self, key: Argument, seconds: int) -> Deferred[Any]:
        """C{EXPIRE key seconds}: fires with 1, or 0 when there is no such key."""
        return self.execute("EXPIRE", key, seconds)

    def publish(self, channel: Argument, message: Argument) -> Deferred[Any]:
        """C{PUBLISH channel message}: fires with how many subscribers got it."""
        return self.execute("PUBLISH", channel, message)
