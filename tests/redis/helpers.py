"""
Test helpers for L{ratchet_tx.redis}: a RESP2 reply encoder (the server's
side, which the package does not need), and a fake Redis server for the
connections a client or subscriber makes on a L{MemoryReactorClock}.

    reactor = MemoryReactorClock()
    client = RedisClient(reactor, "redis://127.0.0.1:6379")
    server = FakeServer(reactor)
    peer = server.accept()                 # the TCP connect succeeds
    assert peer.commands() == [[b"PING"]]  # the handshake
    peer.reply("PONG")                     # now client.connected
"""

from __future__ import annotations

from typing import Any

from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from ratchet_tx.redis.errors import RedisError
from ratchet_tx.redis.protocol import RedisProtocol
from ratchet_tx.redis.resp import ReplyParser


def encodeReply(value: Any) -> bytes:
    """
    A reply in RESP2: C{bytes} as a bulk string, C{str} as a simple string,
    C{int} as an integer, C{None} as a nil bulk, L{RedisError} as an error,
    C{list} as an array.
    """
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if isinstance(value, str):
        return b"+" + value.encode("utf-8") + b"\r\n"
    if isinstance(value, bool):
        raise TypeError("no bools in RESP2")
    if isinstance(value, int):
        return b":%d\r\n" % (value,)
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, RedisError):
        return b"-" + value.message.encode("utf-8") + b"\r\n"
    if isinstance(value, list):
        return b"*%d\r\n" % (len(value),) + b"".join(encodeReply(item) for item in value)
    raise TypeError(type(value))


class Peer:
    """
    The server's end of one accepted connection.

    @ivar protocol: the client's L{RedisProtocol}.
    @ivar transport: the L{StringTransport} it writes to.
    """

    def __init__(self, protocol: RedisProtocol, transport: StringTransport, wrapper: Any) -> None:
        self.protocol = protocol
        self.transport = transport
        self._wrapper = wrapper
        self._parser = ReplyParser()
        self._read = 0

    def commands(self) -> list[list[bytes]]:
        """The commands written since the last call, each as a list of bytes."""
        data = self.transport.value()
        new, self._read = data[self._read :], len(data)
        return self._parser.feed(new)  # type: ignore[return-value]

    def reply(self, *replies: Any) -> None:
        """Send these replies, in one read."""
        self.send(b"".join(encodeReply(reply) for reply in replies))

    def send(self, data: bytes) -> None:
        """Send raw bytes, in one read."""
        self.protocol.dataReceived(data)

    @property
    def aborted(self) -> bool:
        """The client aborted the connection."""
        return bool(self.transport.disconnected)

    @property
    def closing(self) -> bool:
        """The client closed the connection (gracefully or not)."""
        return bool(self.transport.disconnecting)

    def lose(self, reason: BaseException | None = None) -> None:
        """The connection is gone (the reactor's connectionLost)."""
        self._wrapper.connectionLost(Failure(reason or ConnectionDone()))


class FakeServer:
    """
    Completes (or refuses) the TCP connections a client asks a
    L{MemoryReactorClock} for.
    """

    def __init__(self, reactor: MemoryReactorClock) -> None:
        self.reactor = reactor

    @property
    def attempts(self) -> int:
        """How many connections the client asked for so far."""
        return len(self.reactor.tcpClients)

    def accept(self, index: int = -1) -> Peer:
        """Complete connection attempt C{index} (the latest by default)."""
        factory = self.reactor.tcpClients[index][2]
        wrapper: Any = factory.buildProtocol(None)
        transport = StringTransport()
        wrapper.makeConnection(transport)
        return Peer(wrapper._wrappedProtocol, transport, wrapper)

    def refuse(self, index: int = -1) -> None:
        """Fail connection attempt C{index} with "connection refused"."""
        factory = self.reactor.tcpClients[index][2]
        factory.clientConnectionFailed(
            self.reactor.connectors[index], Failure(ConnectionRefusedError())
        )

    def connected(self, handshake: list[list[bytes]] | None = None) -> Peer:
        """
        Accept the latest attempt and answer its handshake (by default the
        lone C{PING}) with C{OK}/C{PONG}.
        """
        peer = self.accept()
        commands = peer.commands()
        if handshake is not None:
            assert commands == handshake, commands
        peer.reply(*["PONG" if c == [b"PING"] else "OK" for c in commands])
        return peer
