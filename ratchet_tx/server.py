# -*- test-case-name: tests.test_server -*-
"""
The transport adapter: a Twisted protocol (L{ConnectionProtocol}, for
either end) and L{Factory} (L{Server}) carrying bytes between sockets and an
L{IApplication}.

This layer knows nothing of WebSocket.  It turns a Twisted connection into a
L{TransportConnection}, passes everything it reads to the application's
C{onMessage} as C{bytes}, guarantees C{onClose} exactly once, and does flow
control: while a peer's outgoing buffer is backed up (the transport pauses its
producer) we stop reading from that peer, so a client that sends requests but
does not read the answers cannot make the server buffer without bound.
"""

from __future__ import annotations

from collections.abc import KeysView
from time import monotonic
from typing import TYPE_CHECKING, Any, cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IHandshakeListener,
    ILoggingContext,
    INegotiated,
    IProtocol,
    IPushProducer,
    ITransport,
)
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.connection import StreamTransport, TransportConnection, heldWrites
from ratchet_tx.dispatch import deliver
from ratchet_tx.flow import FlowControl, socketTransport
from ratchet_tx.interfaces import IApplication
from ratchet_tx.websocket.codecs.closecodes import CloseCode

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime

    from ratchet_tx.accesslog import AccessLog

log = Logger()

#: The most local addresses a L{Server} shares among its connections: one
#: per address and port it listens on, in practice.
MAX_SHARED_ADDRESSES = 64

# Where a ConnectionProtocol is (its _stage).  Over Twisted's TLS layer it
# is in _TLS_HANDSHAKE until that handshake completed: the layer holds what
# is written meanwhile and pauses its producer for it, and to stop reading
# then would stop the TLS handshake itself (a client's opening handshake is
# written before it).  _LOST: connectionLost was called (once is enough).
_OPEN = "open"
_TLS_HANDSHAKE = "TLS handshake"
_LOST = "lost"


@implementer(IProtocol, ILoggingContext, IPushProducer, IHandshakeListener)
class ConnectionProtocol:
    """
    One connection, either end: bytes from the transport to an application
    (or the outermost protocol layer) and back, through a
    L{TransportConnection}.

    It registers itself as the transport's streaming producer, so the
    transport tells it (C{pauseProducing}) when the peer's write buffer is
    full; it then stops reading from that peer until the buffer drains.

    A Twisted protocol as C{twisted.internet.protocol.Protocol} is, with
    C{__slots__}: an idle connection keeps no attribute dictionary.

    @ivar app: the application the connection's bytes go to.
    @ivar flow: the slow-consumer settings (L{FlowControl}).
    @ivar factory: the factory that built it, if it says so.
    @ivar transport: the Twisted transport, once connected.
    @ivar connected: whether C{makeConnection} has been called.
    """

    __slots__ = (
        "__weakref__",
        "_stage",
        "app",
        "connected",
        "connection",
        "factory",
        "flow",
        "transport",
    )

    transport: StreamTransport
    connection: TransportConnection
    factory: Any

    def __init__(self, app: IApplication, flow: FlowControl) -> None:
        self.app = app
        self.flow = flow
        self.factory = None
        self.connected = False
        self._stage = _OPEN

    def logPrefix(self) -> str:
        """The log prefix of the connection (Twisted's: the class name)."""
        return type(self).__name__

    def makeConnection(self, transport: ITransport | StreamTransport) -> None:
        """The transport is connected (Twisted calls this once)."""
        self.connected = True
        self.transport = cast(StreamTransport, transport)
        self.connectionMade()

    def connectionMade(self) -> None:
        if INegotiated.providedBy(self.transport):
            self._stage = _TLS_HANDSHAKE
        flow = self.flow
        self.connection = TransportConnection(
            self.transport, producer=self, flow=flow, localAddress=self.sharedLocalAddress()
        )
        socket = socketTransport(self.transport)
        if getattr(socket, "bufferSize", flow.highWaterMark) != flow.highWaterMark:
            # FileDescriptor pauses its producer past bufferSize bytes (by
            # default as many as the default high-water mark: then the
            # transport keeps no bufferSize of its own).
            socket.bufferSize = flow.highWaterMark
        if hasattr(socket, "setTcpNoDelay"):
            # Every write is a whole message (or a batch of them): waiting
            # for more (Nagle) only adds the peer's delayed-ACK time.
            socket.setTcpNoDelay(True)
        self.connectionOpened()
        app = self.app
        deliver(app, self.connection, app.onOpen)

    def dataReceived(self, data: bytes) -> None:
        app = self.app
        self.connection.messagesIn += 1
        heldWrites.hold()
        try:
            deliver(app, self.connection, app.onMessage, data)
        finally:
            heldWrites.release()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._stage is _LOST:
            return
        self._stage = _LOST
        conn = self.connection
        conn.connectionLost()
        self.connectionEnding()
        app = self.app
        try:
            deliver(app, conn, app.onClose)
            conn.runCloseCallbacks()
        finally:
            try:
                self.connectionEnded()
            finally:
                conn.release()

    def sharedLocalAddress(self) -> IAddress | None:
        """
        Our end's address for the L{TransportConnection}, or C{None} to have
        it ask the transport.
        """
        return None

    def connectionOpened(self) -> None:
        """The connection is made, just before C{app.onOpen}."""

    def connectionEnding(self) -> None:
        """The connection is gone, just before C{app.onClose}."""

    def connectionEnded(self) -> None:
        """
        The connection is gone and C{app.onClose} has run (its C{view} is
        still the application's, forgotten right after).
        """

    # IPushProducer: the transport's write buffer is full / has drained.

    @property
    def writePaused(self) -> bool:
        """Whether the peer's write buffer is over the high-water mark."""
        return self.connection.backedUp

    def handshakeCompleted(self) -> None:
        """
        The TLS handshake completed (L{IHandshakeListener}): from now on the
        TLS layer pauses this producer only when the peer reads too slowly.
        """
        if self._stage is _TLS_HANDSHAKE:
            self._stage = _OPEN

    def pauseProducing(self) -> None:
        if self._stage is _TLS_HANDSHAKE:
            return  # the TLS layer holds early writes; it is not backpressure
        self.transport.pauseProducing()
        self.connection.writesBackedUp()

    def resumeProducing(self) -> None:
        self.connection.writesDrained()
        self.transport.resumeProducing()

    def stopProducing(self) -> None:
        pass


class ServerProtocol(ConnectionProtocol):
    """A connection a L{Server} accepted: listed in its C{protocols} while open."""

    __slots__ = ()

    factory: Server

    def sharedLocalAddress(self) -> IAddress | None:
        return self.factory.sharedAddress(self.transport.getHost())

    def connectionOpened(self) -> None:
        self.factory.protocolOpened(self)

    def connectionEnding(self) -> None:
        self.factory.protocolEnding(self)

    def connectionEnded(self) -> None:
        factory = self.factory
        accessLog = factory.accessLog
        if accessLog is not None:
            conn = self.connection
            try:
                accessLog.connectionEnded(conn.view, monotonic() - conn.openedAt)
            except Exception:
                log.failure("Cannot write the access log line of {conn!r}", conn=conn)
        factory.connectionClosed()


if TYPE_CHECKING:
    _Factory = Factory[ServerProtocol]
else:  # Twisted before 24.7 has no generic Factory
    _Factory = Factory


class Server(_Factory):
    """
    Serve an L{IApplication} on any Twisted server endpoint.

    Raw TCP::

        serverFromString(reactor, "tcp:9000").listen(Server(Chat()))

    WebSocket (any version)::

        serverFromString(reactor, "tcp:8080").listen(Server(WebSocket(Chat())))

    @ivar app: the application (or outermost protocol layer) being served.
    @ivar accessLog: where a line for each finished connection goes
        (L{ratchet_tx.accesslog.AccessLog}), or C{None}.
    """

    noisy = False

    def __init__(
        self,
        app: IApplication,
        flow: FlowControl | None = None,
        accessLog: AccessLog | None = None,
    ) -> None:
        """
        @param flow: how slow consumers are treated (L{FlowControl}).
        @param accessLog: writes a line for each finished connection.
        """
        if not IApplication.providedBy(app):
            raise TypeError(f"{app!r} does not provide IApplication")
        self.app = app
        self.flow = flow if flow is not None else FlowControl()
        # A dict as an ordered set: at 10 000 entries it takes about half the
        # memory of a set.
        self._protocols: dict[ServerProtocol, None] = {}
        self.accessLog = accessLog
        self._waiting: list[Deferred[None]] = []
        self._addresses: dict[IAddress, IAddress] = {}

    def buildProtocol(self, addr: IAddress | None) -> ServerProtocol:
        proto = ServerProtocol(self.app, self.flow)
        proto.factory = self
        return proto

    def sharedAddress(self, address: IAddress) -> IAddress:
        """
        C{address}, or an equal one seen before: the connections to one of
        the server's addresses share one object (an idle connection then
        keeps no copy of its own).  At most L{MAX_SHARED_ADDRESSES} are kept.
        """
        addresses = self._addresses
        try:
            return addresses[address]
        except KeyError:
            if len(addresses) < MAX_SHARED_ADDRESSES:
                addresses[address] = address
        except TypeError:
            pass  # an address that cannot be hashed is not shared
        return address

    def protocolOpened(self, protocol: ServerProtocol) -> None:
        """C{protocol}'s connection opened: list it in L{protocols}."""
        self._protocols[protocol] = None

    def protocolEnding(self, protocol: ServerProtocol) -> None:
        """C{protocol}'s connection is gone: no longer list it."""
        self._protocols.pop(protocol, None)

    @property
    def protocols(self) -> KeysView[ServerProtocol]:
        """The L{ServerProtocol} of every open connection (a set-like view)."""
        return self._protocols.keys()

    @property
    def connections(self) -> list[TransportConnection]:
        """The connection of every open client."""
        return [proto.connection for proto in self.protocols]

    def closeAll(
        self,
        timeout: float = 5.0,
        clock: IReactorTime | None = None,
        code: int = CloseCode.GOING_AWAY,
        reason: str = "server shutting down",
    ) -> Deferred[None]:
        """
        Close every connection gracefully, through the outermost protocol
        layer (so WebSocket clients get a close frame with C{code}); abort
        those still open after C{timeout} seconds.

        @return: a Deferred that fires once every connection is gone (and
            every C{onClose} has run).
        """
        if not self.protocols:
            return succeed(None)
        if clock is None:
            from twisted.internet import reactor

            clock = reactor
        done: Deferred[None] = Deferred()
        self._waiting.append(done)
        for proto in list(self.protocols):
            proto.connection.view.close(code, reason)

        def abortStragglers() -> None:
            for proto in list(self.protocols):
                log.warn("Aborting {conn!r}: did not close in time", conn=proto.connection)
                proto.transport.abortConnection()

        timer = clock.callLater(timeout, abortStragglers)
        done.addBoth(_cancelTimer, timer)
        return done

    def connectionClosed(self) -> None:
        """
        A connection is gone and its C{onClose} has run: fire what
        L{closeAll} returned once none is left.
        """
        if not self.protocols and self._waiting:
            waiting, self._waiting = self._waiting, []
            for d in waiting:
                d.callback(None)


def _cancelTimer(result: object, timer: IDelayedCall) -> object:
    if timer.active():
        timer.cancel()
    return result

