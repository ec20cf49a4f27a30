# -*- test-case-name: tests.test_connection -*-
"""
Connection objects: the socket end (L{TransportConnection}) and the base for a
protocol layer's view of it (L{ConnectionDecorator}).

Every view of one connection shares the same identity, addresses and C{state};
only C{send} and C{close} change from layer to layer.
"""

from __future__ import annotations

from itertools import count
from types import SimpleNamespace
from typing import TYPE_CHECKING

from twisted.logger import Logger
from zope.interface import implementer

from ratchet_tx.flow import (
    SLOW_CONSUMER_CLOSE_CODE,
    FlowControl,
    SlowConsumer,
    bufferedBytes,
)
from ratchet_tx.interfaces import IConnection

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress, IPushProducer, ITransport

_ids = count(1)
log = Logger()
DEFAULT_FLOW = FlowControl()


@implementer(IConnection)
class TransportConnection:
    """
    A connection as the transport sees it: C{send} writes bytes to the socket.

    A C{str} is sent as its UTF-8 encoding, so an application that echoes what
    it gets runs unchanged over WebSocket (text) and plain TCP (bytes).
    """

    __slots__ = (
        "_flow",
        "_producer",
        "_state",
        "_transport",
        "backedUp",
        "closed",
        "droppedMessages",
        "id",
        "localAddress",
        "_view",
        "remoteAddress",
    )

    def __init__(
        self,
        transport: ITransport,
        producer: IPushProducer | None = None,
        flow: FlowControl = DEFAULT_FLOW,
    ) -> None:
        """
        @param producer: registered as C{transport}'s streaming producer (to
            be told when the peer's write buffer fills up and drains) until
            the connection is closed.
        @param flow: what to do with messages sent while backed up.
        """
        self.id = next(_ids)
        self._transport = transport
        self._producer = producer
        self._flow = flow
        #: More than the high-water mark waits to be sent to the peer.
        self.backedUp = False
        #: Messages dropped by the L{SlowConsumer.DROP} policy.
        self.droppedMessages = 0
        if producer is not None:
            transport.registerProducer(producer, True)
        self.remoteAddress: IAddress = transport.getPeer()
        self.localAddress: IAddress = transport.getHost()
        self._state: SimpleNamespace | None = None
        self.closed = False
        self._view: IConnection | None = None

    @property
    def state(self) -> SimpleNamespace:
        if self._state is None:
            self._state = SimpleNamespace()
        return self._state

    @property
    def transport(self) -> ITransport:
        """The Twisted transport under this connection."""
        return self._transport

    @property
    def view(self) -> IConnection:
        """
        The outermost view of this connection: the one the application sees.
        Protocol layers that decorate the connection set it.
        """
        return self if self._view is None else self._view

    @view.setter
    def view(self, view: IConnection) -> None:
        self._view = view

    def release(self) -> None:
        """
        Forget the views and the producer once the connection is gone, so
        that nothing keeps a closed connection alive but its users.
        """
        self._view = None
        self._producer = None

    @property
    def bufferedAmount(self) -> int:
        """Bytes sent to the peer that are still waiting in our buffers."""
        return bufferedBytes(self._transport)

    def send(self, message: str | bytes) -> None:
        """
        Send a message: subject to the slow-consumer policy while the
        connection is backed up.
        """
        if self.closed or (self.backedUp and not self._admit()):
            return
        if type(message) is str:
            message = message.encode("utf-8")
        self._transport.write(message)

    def sendMany(self, messages: list[bytes]) -> None:
        """
        Send several messages (already encoded) in one write: the same as
        calling L{send} for each, but cheaper.  While the connection is
        backed up each is still judged by the slow-consumer policy on its own.
        """
        if self.closed:
            return
        if self.backedUp:
            for message in messages:
                self.send(message)
        elif len(messages) == 1:
            self._transport.write(messages[0])
        else:
            self._transport.write(b"".join(messages))

    def write(self, data: bytes) -> None:
        """
        Write protocol bytes (a handshake, a control frame) that no policy
        may drop.
        """
        if not self.closed:
            self._transport.write(data)

    def _admit(self) -> bool:
        policy = self._flow.slowConsumer
        if policy is SlowConsumer.DROP:
            self.droppedMessages += 1
            return False
        if policy is SlowConsumer.QUEUE and self.bufferedAmount <= self._flow.maxBuffered:
            return True
        log.info(
            "Closing slow consumer {conn!r}: {buffered} bytes unsent",
            conn=self,
            buffered=self.bufferedAmount,
        )
        self.view.close(SLOW_CONSUMER_CLOSE_CODE, "slow consumer")
        return False

    def close(self, code: int | None = None, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            if self._producer is not None:
                # A TLS transport holds its close_notify back while a producer
                # is registered, so the peer would wait for the close in vain.
                self._producer = None
                self._transport.unregisterProducer()
            self._transport.loseConnection()

    def abort(self) -> None:
        self.closed = True
        self._transport.abortConnection()

    def pauseReading(self) -> None:
        """Stop reading from the peer (flow control toward a slow writer)."""
        self._transport.pauseProducing()

    def resumeReading(self) -> None:
        """Start reading from the peer again."""
        self._transport.resumeProducing()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{self.id} {_describe(self.remoteAddress)}>"


@implementer(IConnection)
class ConnectionDecorator:
    """
    A protocol layer's view of a connection: wraps the connection beneath it.

    Identity, addresses, C{state} and C{closed} come from the wrapped
    connection; subclasses override L{send} and L{close} to speak their
    protocol, using C{self.wrapped.send} for the bytes.
    """

    __slots__ = ("wrapped",)

    def __init__(self, wrapped: IConnection) -> None:
        self.wrapped = wrapped
        self.transportConnection.view = self

    @property
    def id(self) -> int:
        return self.wrapped.id

    @property
    def remoteAddress(self) -> IAddress:
        return self.wrapped.remoteAddress

    @property
    def localAddress(self) -> IAddress:
        return self.wrapped.localAddress

    @property
    def state(self) -> SimpleNamespace:
        return self.wrapped.state

    @property
    def closed(self) -> bool:
        return self.wrapped.closed

    @property
    def bufferedAmount(self) -> int:
        """Bytes sent to the peer that are still waiting in our buffers."""
        return self.transportConnection.bufferedAmount

    @property
    def backedUp(self) -> bool:
        """Whether more than the high-water mark waits to be sent to the peer."""
        return self.transportConnection.backedUp

    @property
    def droppedMessages(self) -> int:
        """Messages the slow-consumer policy dropped for this peer."""
        return self.transportConnection.droppedMessages

    @property
    def transportConnection(self) -> TransportConnection:
        """The innermost connection, the one that owns the socket."""
        conn = self.wrapped
        while isinstance(conn, ConnectionDecorator):
            conn = conn.wrapped
        return conn  # type: ignore[return-value]

    def send(self, message: str | bytes) -> None:
        self.wrapped.send(message)

    def close(self, code: int | None = None, reason: str = "") -> None:
        self.wrapped.close(code, reason)

    def abort(self) -> None:
        self.wrapped.abort()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{self.id} {_describe(self.remoteAddress)}>"


def _describe(address: object) -> str:
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        return f"{host}:{port}"
    name = getattr(address, "name", None)
    return str(name) if name else type(address).__name__
