# -*- test-case-name: tests.test_connection -*-
"""
Connection objects: the socket end (L{TransportConnection}) and the base for a
protocol layer's view of it (L{ConnectionDecorator}).

Every view of one connection shares the same identity, addresses and C{state};
only C{send} and C{close} change from layer to layer.  Writes are held while a
read is handled (L{HeldWrites}), so that everything one read causes goes to
each peer in one write, whatever the protocol above: joined into one
C{bytes}, or where a large frame came as L{Pieces}, one C{writeSequence} of
the pieces in order (the small writes between them joined), so that a large
payload is never copied to be sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import count
from time import monotonic
from types import SimpleNamespace
from typing import TYPE_CHECKING, Protocol

from twisted.logger import Logger
from zope.interface import implementer

from ratchet_tx.flow import FlowControl, SlowConsumer, bufferedBytes
from ratchet_tx.interfaces import IConnection
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.pieces import Pieces, writtenSize

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress, IPushProducer

    from ratchet_tx.transport.tcp import ReadBuffer


class StreamTransport(Protocol):
    """
    What a L{TransportConnection} uses of its Twisted transport: a TCP, TLS or
    UNIX transport (L{twisted.internet.interfaces.ITCPTransport} and
    L{twisted.internet.interfaces.IConsumer}).
    """

    def write(self, data: bytes) -> None: ...

    def writeSequence(self, data: Iterable[bytes]) -> None: ...

    def loseConnection(self) -> None: ...

    def abortConnection(self) -> None: ...

    def getPeer(self) -> IAddress: ...

    def getHost(self) -> IAddress: ...

    def registerProducer(self, producer: object, streaming: bool) -> None: ...

    def unregisterProducer(self) -> None: ...

    def pauseProducing(self) -> None: ...

    def resumeProducing(self) -> None: ...

#: What L{TransportConnection.send} takes.
Sendable = str | bytes | bytearray | memoryview | Pieces

_ids = count(1)
log = Logger()
DEFAULT_FLOW = FlowControl()


class HeldWrites:
    """
    Writes held back while one read is handled, so that everything the read
    causes goes to each peer in one write.

    A protocol calls L{hold} before it hands a read to its application and
    L{release} after (nested reads hold once).  Meanwhile each
    L{TransportConnection} keeps what it is asked to write, in order, and
    L{release} writes it out: a burst of N broadcasts costs each receiver one
    transport write, not N.  Writes at any other time (a timer, a Deferred
    firing) go to the transport at once.

    @ivar depth: how many reads are being handled (more than one only when a
        read handler feeds another connection, as in-memory tests do).
    """

    __slots__ = ("depth", "waiting")

    def __init__(self) -> None:
        self.depth = 0
        #: The connections holding writes, to flush on L{release}.
        self.waiting: list[TransportConnection] = []

    def hold(self) -> None:
        """A read is about to be handled."""
        self.depth += 1

    def release(self) -> None:
        """The read is handled: write what was held, if it was the outermost."""
        self.depth -= 1
        if self.depth:
            return
        waiting = self.waiting
        while waiting:
            self.waiting = []
            for conn in waiting:
                try:
                    conn.flush()
                except Exception:
                    log.failure("Writing to {conn!r} failed", conn=conn)
                    conn.abort()
            waiting = self.waiting


#: The process's held writes: Twisted runs every protocol in one thread.
heldWrites = HeldWrites()

#: What a connection's close callbacks become once they were called.
_CALLED: tuple[()] = ()


class _Extras:
    """
    What a L{TransportConnection} seldom needs, made the first time it does:
    an idle connection keeps one slot for both instead of two.

    @ivar state: the application's C{state}, once asked for.
    @ivar closeCallbacks: those added (None until one is; L{_CALLED} once
        they were called).
    """

    __slots__ = ("closeCallbacks", "state")

    def __init__(self) -> None:
        self.state: SimpleNamespace | None = None
        self.closeCallbacks: list[Callable[[IConnection], object]] | tuple[()] | None = None


#: The L{_Extras} of every connection whose close callbacks ran when it had
#: neither: never changed (L{TransportConnection._more} replaces it first).
_CALLED_ONLY = _Extras()
_CALLED_ONLY.closeCallbacks = _CALLED


@implementer(IConnection)
class TransportConnection:
    """
    A connection as the transport sees it: C{send} writes bytes to the socket.

    A C{str} is sent as its UTF-8 encoding, so an application that echoes what
    it gets runs unchanged over WebSocket (text) and plain TCP (bytes).  While
    a read is handled, writes are held and go out together (L{HeldWrites}).
    """

    __slots__ = (
        "_extras",
        "_flow",
        "_held",
        "_producer",
        "_transport",
        "_view",
        "backedUp",
        "closed",
        "droppedMessages",
        "_local",
        "id",
        "messagesIn",
        "messagesOut",
        "openedAt",
    )

    def __init__(
        self,
        transport: StreamTransport,
        producer: IPushProducer | None = None,
        flow: FlowControl = DEFAULT_FLOW,
        localAddress: IAddress | None = None,
    ) -> None:
        """
        @param producer: registered as C{transport}'s streaming producer (to
            be told when the peer's write buffer fills up and drains) until
            the connection is closed.
        @param flow: what to do with messages sent while backed up.
        @param localAddress: our end's address, if the caller has it already
            (a server shares one object among the connections to one of its
            addresses); by default C{transport.getHost()}.
        """
        self.id = next(_ids)
        self._transport = transport
        self._producer = producer
        self._flow = flow
        self._held: list[bytes | Pieces] | None = None
        # The state and close callbacks: None until either is asked for.
        self._extras: _Extras | None = None
        #: More than the high-water mark waits to be sent to the peer.
        self.backedUp = False
        #: Messages not sent: dropped by the L{SlowConsumer.DROP} policy, or
        #: sent after the connection began to close.
        self.droppedMessages = 0
        #: Reads handed to the layer above, and messages sent (not dropped).
        self.messagesIn = 0
        self.messagesOut = 0
        #: When the connection was made (C{time.monotonic()}).
        self.openedAt = monotonic()
        if producer is not None:
            transport.registerProducer(producer, True)
        self._local = transport.getHost() if localAddress is None else localAddress
        self.closed = False
        self._view: IConnection | None = None

    def _more(self) -> _Extras:
        """What the connection keeps once the state or a close callback is asked for."""
        extras = self._extras
        if extras is None or extras is _CALLED_ONLY:
            fresh = self._extras = _Extras()
            if extras is _CALLED_ONLY:
                fresh.closeCallbacks = _CALLED
            return fresh
        return extras

    @property
    def state(self) -> SimpleNamespace:
        extras = self._more()
        if extras.state is None:
            extras.state = SimpleNamespace()
        return extras.state

    @property
    def remoteAddress(self) -> IAddress:
        """
        The peer's address, asked of the transport each time (transports
        keep it after the connection is lost): an idle connection keeps no
        copy of its own.
        """
        return self._transport.getPeer()

    @property
    def localAddress(self) -> IAddress:
        """Our end's address."""
        return self._local

    @property
    def transport(self) -> StreamTransport:
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
        """Bytes sent to the peer that have not reached the kernel yet."""
        held = self._held
        pending = 0 if held is None else sum(map(writtenSize, held))
        return pending + bufferedBytes(self._transport)

    def send(self, message: Sendable) -> None:
        """
        Send a message: subject to the slow-consumer policy while the
        connection is backed up, and dropped (counted in L{droppedMessages})
        once it is closed.  L{Pieces} (a large frame) are written in order
        without being joined.
        """
        if self.backedUp or self.closed or type(message) is not bytes:
            data = self._admit(message)
            if data is None:
                return
        else:
            data = message
        self.messagesOut += 1
        held = self._held
        if held is not None:
            held.append(data)  # the common case of a broadcast burst
        else:
            self._writeOrHold(data)

    def write(self, data: bytes) -> None:
        """
        Write protocol bytes (a handshake, a control frame) that no policy
        may drop.
        """
        if self.closed:
            return
        held = self._held
        if held is not None:
            held.append(data)
        else:
            self._writeOrHold(data)

    def _writeOrHold(self, data: bytes | Pieces) -> None:
        """
        The first write: held if a read is being handled, else written
        (L{Pieces} as a sequence, not joined).
        """
        held = heldWrites
        if held.depth:
            self._held = [data]
            held.waiting.append(self)
        elif type(data) is Pieces:
            self._transport.writeSequence(data)
        else:
            self._transport.write(data)  # type: ignore[arg-type]

    def flush(self) -> None:
        """Write what is held, now."""
        held = self._held
        if held is not None:
            self._held = None
            if len(held) == 1:
                data = held[0]
                if isinstance(data, Pieces):
                    self._transport.writeSequence(data)
                else:
                    self._transport.write(data)
                return
            try:
                # One joined write: Twisted's writeSequence checks each piece
                # in Python, which costs more than the join for a burst of
                # frames.
                joined = b"".join(held)  # type: ignore[arg-type]
            except TypeError:  # some are Pieces: large, not to be copied
                self._transport.writeSequence(_unjoined(held))
                return
            self._transport.write(joined)

    def readInto(self, buffer: ReadBuffer) -> None:
        """
        Have the transport read the next bytes straight into C{buffer} (a
        large frame's payload) if it can: see
        L{ratchet_tx.transport.tcp.WriteThroughConnection.readInto}.  Other
        transports go on handing every byte to C{dataReceived}, which fills
        the buffer just as well, by a copy.
        """
        readInto = getattr(self._transport, "readInto", None)
        if readInto is not None:
            readInto(buffer)

    def writesBackedUp(self) -> None:
        """
        The transport holds more than the high-water mark: the connection is
        backed up (and under L{SlowConsumer.CLOSE}, closed at once).
        """
        self.backedUp = True
        if self._flow.slowConsumer is SlowConsumer.CLOSE:
            self._mayQueue()

    def writesDrained(self) -> None:
        """The transport's buffer drained below the high-water mark."""
        self.backedUp = False

    def _admit(self, message: Sendable) -> bytes | Pieces | None:
        """
        The bytes to send for C{message} once the connection is closed or
        backed up, or C{message} is not C{bytes}: C{None} if it may not be
        sent.
        """
        if self.closed:
            self.droppedMessages += 1
            return None
        if self.backedUp and not self._mayQueue():
            return None
        if isinstance(message, Pieces):
            return message
        if isinstance(message, str):
            return message.encode("utf-8")
        # Copied now: a bytearray may change before a held write goes.
        return bytes(message)

    def _mayQueue(self) -> bool:
        """Whether the slow-consumer policy lets one more message wait."""
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
        self.view.close(CloseCode.POLICY_VIOLATION, "slow consumer")
        return False

    def close(self, code: int | None = None, reason: str = "") -> None:
        """Close gracefully: what is held and queued is written first."""
        if not self.closed:
            self.flush()
            self.closed = True
            if self._producer is not None:
                # A TLS transport holds its close_notify back while a producer
                # is registered, so the peer would wait for the close in vain.
                self._producer = None
                self._transport.unregisterProducer()
            self._transport.loseConnection()

    def abort(self) -> None:
        """Drop the connection at once; what is held or queued is lost."""
        self._held = None
        self.closed = True
        self._transport.abortConnection()

    def connectionLost(self) -> None:
        """The transport is gone: nothing more can be written."""
        self._held = None
        self.closed = True

    def addCloseCallback(self, callback: Callable[[IConnection], object]) -> None:
        """See L{IConnection.addCloseCallback}; C{callback} gets the L{view}."""
        extras = self._more()
        callbacks = extras.closeCallbacks
        if callbacks is _CALLED:
            callback(self.view)
        elif callbacks is None:
            extras.closeCallbacks = [callback]
        else:
            callbacks.append(callback)  # type: ignore[union-attr]

    def runCloseCallbacks(self) -> None:
        """
        The connection is gone and the application's C{onClose} has run:
        call the close callbacks, once, each on its own (a failing one is
        logged).
        """
        extras = self._extras
        if extras is None:
            # The usual case: no callbacks and no state (shared, never changed).
            self._extras = _CALLED_ONLY
            return
        callbacks, extras.closeCallbacks = extras.closeCallbacks, _CALLED
        view = self.view
        for callback in callbacks or ():
            try:
                callback(view)
            except Exception:
                log.failure("A close callback of {conn!r} failed", conn=self)

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
    def messagesIn(self) -> int:
        """Messages received: as the layer beneath counts them."""
        return self.wrapped.messagesIn  # type: ignore[attr-defined]

    @property
    def messagesOut(self) -> int:
        """Messages sent to the peer (not those dropped)."""
        return self.transportConnection.messagesOut

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

    def addCloseCallback(self, callback: Callable[[IConnection], object]) -> None:
        self.wrapped.addCloseCallback(callback)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{self.id} {_describe(self.remoteAddress)}>"


def _unjoined(held: list[bytes | Pieces]) -> list[bytes]:
    """What was held, as the pieces to write in order (small ones joined)."""
    pieces: list[bytes] = []
    small: list[bytes] = []
    for data in held:
        if isinstance(data, Pieces):
            if small:
                pieces.append(b"".join(small))
                small = []
            pieces.extend(data)
        else:
            small.append(data)
    if small:
        pieces.append(b"".join(small))
    return pieces


def _describe(address: object) -> str:
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        return f"{host}:{port}"
    name = getattr(address, "name", None)
    return str(name) if name else type(address).__name__
