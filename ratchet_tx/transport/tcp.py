# -*- test-case-name: tests.transport.test_tcp -*-
"""
A TCP transport that writes through to the socket, for servers and clients.

Twisted's own transport buffers every C{write} and sends it on the reactor's
next turn: it registers for writability, waits for the event, sends, and
unregisters, even when the kernel would have taken the bytes at once.
L{WriteThroughServer} (and L{WriteThroughClient}, the same for a
connection we make) sends without waiting for writability: a write of
C{sendAtOnceSize} bytes or more within C{write}, smaller ones at the end of
the reactor turn they were written in (L{ratchet_tx.transport.turn}), and it
falls back to Twisted's way only for what the kernel refuses.

Theory of operation
===================

C{_queue} and C{_pending} say what C{write} does with bytes::

    _queue None,    nothing waits: a large write is sent now, a small one
    _pending None   becomes C{_pending} and the transport joins the turn
    _pending bytes  a small write of this turn, sent at its end: a second
                    write joins it in a L{WriteQueue}, also sent then (a
                    large one is sent with it at once)
    _queue a        bytes wait: queue behind them (C{doWrite} sends them,
    WriteQueue      several pieces per C{sendmsg}, never joined)
    _DISCARD        the connection can take no more (lost, aborted, its
                    write side shut down, or a send failed): drop them

Whatever the kernel refuses waits in a L{WriteQueue} for writability.

C{loseConnection} stops reading and marks the connection C{disconnecting};
if nothing waits, the transport joins the turn.  At the end of the turn,
once its send took everything (C{_queue} None), the connection is lost
there and then, as the reactor would after C{doWrite} (and, as there, a
pull or paused producer is asked for more first: C{doWrite} then closes
once it is done).  What the kernel refused drains through C{doWrite}, which
closes as Twisted's does.  Over TLS, or once the write side is shut down,
C{loseConnection} is Twisted's.

Everything else is Twisted's, inherited from L{twisted.internet.tcp.Server}
(L{twisted.internet.tcp.Client}, connecting included) and kept as it is:
producers (a streaming producer is paused when more than C{bufferSize} bytes
wait and resumed once they are all sent; a pull producer is asked for more
whenever nothing waits), C{loseConnection} once the queue has drained (at
the end of the turn, see above), C{abortConnection}, half-close,
addresses, C{TCP_NODELAY}, log context.  A send that fails inside C{write}
is not reported from there: as with
Twisted's transport, the connection is lost with
L{twisted.internet.error.ConnectionLost} from the reactor.

Reads ask for adaptive amounts (L{ratchet_tx.transport.reads}); C{bufferSize}
is then only the threshold for pausing producers, not the read size as well.

What an idle connection keeps is Twisted's transport minus what can be asked
for: C{repstr}, C{logstr}, C{fileno} and the peer's C{client} tuple are
class-level descriptors that make them from what the transport keeps anyway
(the socket, the session number, the host), in Twisted's formats; what
Twisted's C{__init__} assigns to them (and to its unused write buffer) is
dropped, so that those names take no entry in the attribute dictionary.

A protocol that knows what the next bytes are for (a large WebSocket frame,
whose final C{bytes} is made at its size) may have them read straight into
a buffer of its own: L{WriteThroughConnection.readInto}, after which each
read goes into the buffer's window and the protocol hears
C{dataReceived(b"")}, until the buffer wants no more.  Nothing else reads
that way (Twisted's own transports, TLS: the protocol then fills its buffer
from what C{dataReceived} gives it).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterable
from errno import ENOBUFS
from typing import Any, Protocol

from twisted.internet import main, tcp
from twisted.internet.abstract import FileDescriptor
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure

from ratchet_tx.transport.queue import WriteQueue
from ratchet_tx.transport.reads import MAX_READ_SIZE, MIN_READ_SIZE, nextReadSize
from ratchet_tx.transport.turn import turnOf

_HAVE_SENDMSG = hasattr(socket.socket, "sendmsg")

#: Writes at least this large are sent within C{write}; smaller ones at the
#: end of the reactor turn, so that the turn's sends go out together.
DEFAULT_SEND_AT_ONCE_SIZE = 64 * 1024


class _Discard(WriteQueue):
    """A queue that keeps nothing: where writes go once no more may be sent."""

    __slots__ = ()

    def append(self, piece: bytes | memoryview) -> None:
        pass


_DISCARD = _Discard()


#: The reason of a connection closed by C{loseConnection}: one failure, made
#: once, as Twisted's reactor shares its own.
_CONNECTION_DONE = Failure(main.CONNECTION_DONE)


def _lost() -> ConnectionLost:
    """What C{doRead} and C{doWrite} return once a send has failed."""
    return main.CONNECTION_LOST


class _Description:
    """
    The transport's C{repstr} (what C{repr} shows), made when asked rather
    than kept by every connection: what Twisted's C{__init__} assigns (the
    same) is dropped.
    """

    def __get__(self, transport: Any, owner: type | None = None) -> Any:
        if transport is None:
            return self
        server = getattr(transport, "server", None)  # a client has none
        port = "?" if server is None else server._realPortNumber
        return f"<{type(transport.protocol).__name__} #{transport.sessionno} on {port}>"

    def __set__(self, transport: Any, value: object) -> None:
        pass


class _Fixed:
    """
    An attribute that Twisted's C{__init__} sets but this transport does
    not use: always C{value}, and what is assigned is dropped, so that no
    connection keeps an entry for it.
    """

    def __init__(self, value: object) -> None:
        self._value = value

    def __get__(self, transport: Any, owner: type | None = None) -> Any:
        return self if transport is None else self._value

    def __set__(self, transport: Any, value: object) -> None:
        pass

    def __delete__(self, transport: Any) -> None:
        pass


class _LogString:
    """
    The transport's C{logstr} (what C{logPrefix} returns, the C{system} of
    what is logged while the reactor handles the connection's events), made
    when asked from the protocol's log prefix, the session number and the
    peer's host, in Twisted's format; what Twisted's C{__init__} assigns is
    dropped, so that no connection keeps a string of its own.
    """

    def __get__(self, transport: Any, owner: type | None = None) -> Any:
        if transport is None:
            return self
        context = transport._logContext
        if context is None:
            return "Uninitialized"
        hostname = getattr(transport, "hostname", None)
        if hostname is None:  # a client
            return f"{context},client"
        return f"{context},{transport.sessionno},{hostname}"

    def __set__(self, transport: Any, value: object) -> None:
        pass


class _Peer:
    """
    Twisted's C{client} (the peer's address as C{accept} gave it, kept for
    C{getPeer} after the connection is lost), without a tuple of its own per
    connection: the host is Twisted's C{hostname} already, the rest (the
    port; for IPv6 also the flow information and scope) is kept beside it.
    """

    def __get__(self, transport: Any, owner: type | None = None) -> Any:
        if transport is None:
            return self
        rest = transport._peerRest
        if rest is None:  # a client, which has no such attribute in Twisted
            raise AttributeError("client")
        if type(rest) is int:
            return (transport.hostname, rest)
        return (transport.hostname, *rest)

    def __set__(self, transport: Any, value: tuple[Any, ...]) -> None:
        # Twisted sets hostname to value[0] right after.
        transport._peerRest = value[1] if len(value) == 2 else tuple(value[1:])


def _noFileno() -> int:
    """C{fileno} once the socket is gone (as Twisted's C{FileDescriptor.fileno})."""
    return -1


def _checkBytes(data: object) -> None:
    if not isinstance(data, bytes):
        raise TypeError("Data must be bytes")


class WriteThroughConnection(tcp.Connection):
    """
    A TCP connection writing through to its socket: the write and read paths
    that L{WriteThroughServer} and L{WriteThroughClient} share (mixed in
    before Twisted's own C{tcp.Server} and C{tcp.Client}).

    @cvar minReadSize: the smallest read (see L{ratchet_tx.transport.reads}).
    @cvar maxReadSize: the largest read.
    @cvar sendAtOnceSize: writes at least this large are sent within
        C{write}, smaller ones at the end of the reactor turn (1: every
        write within C{write}); see L{DEFAULT_SEND_AT_ONCE_SIZE}.
    """

    minReadSize = MIN_READ_SIZE
    maxReadSize = MAX_READ_SIZE
    sendAtOnceSize = DEFAULT_SEND_AT_ONCE_SIZE
    _readSize = MIN_READ_SIZE
    _queue: WriteQueue | None = None
    _pending: bytes | None = None
    repstr = _Description()
    logstr = _LogString()
    client = _Peer()
    #: The protocol's log prefix, taken when Twisted computes C{logstr}.
    _logContext: str | None = None
    _peerRest: Any = None
    #: Twisted's write buffer and its length, unused here: a shared empty
    #: tuple instead of a list per connection (anything that appended to it
    #: would fail loudly).
    _tempDataBuffer: Any = _Fixed(())
    _tempDataLen: Any = _Fixed(0)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._readSize = cls.minReadSize

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = turnOf(self.reactor)

    def _getFileno(self) -> Any:
        try:
            return self.socket.fileno
        except AttributeError:  # Twisted deleted the socket: the connection is lost
            return _noFileno

    def _setFileno(self, fileno: object) -> None:
        pass  # Twisted's self.fileno = skt.fileno: asked of the socket instead

    def _delFileno(self) -> None:
        pass  # Twisted's del self.fileno once the socket is gone

    #: The socket's C{fileno}, asked of the socket rather than kept by every
    #: connection as Twisted does (C{self.fileno = skt.fileno}, deleted when
    #: the connection is lost: then -1).
    fileno = property(_getFileno, _setFileno, _delFileno)

    def _getLogPrefix(self, applicationObject: Any) -> str:
        """Twisted's, noting the prefix for C{logstr} (see L{_LogString})."""
        prefix: str = super()._getLogPrefix(applicationObject)
        self._logContext = sys.intern(prefix)
        return prefix

    @property
    def bufferedAmount(self) -> int:
        """How many bytes written have not reached the kernel yet."""
        queue, pending = self._queue, self._pending
        return (0 if queue is None else queue.size) + (0 if pending is None else len(pending))

    # Writing

    def write(self, data: bytes) -> None:
        """
        Send C{data} without waiting for writability (now if it is large, at
        the end of the reactor turn if not), unless bytes wait already:
        then, and for whatever the kernel refuses, queue it.  Ignored once
        the connection is lost or its write side is shut down.
        """
        _checkBytes(data)
        if not data:
            return
        queue = self._queue
        if queue is not None:
            queue.append(data)
            self._maybePauseProducer()
            return
        pending = self._pending
        if pending is None:
            if len(data) >= self.sendAtOnceSize:
                self._sendNow(data)
                return
            self._pending = data
            self._turn.add(self)
            if len(data) > self.bufferSize:
                self._maybePauseProducer()
            return
        # A second write in this turn: both wait for its end, or go now.
        self._pending = None
        queue = WriteQueue((pending, data))
        if queue.size >= self.sendAtOnceSize:
            self._sendQueue(queue)
        else:
            self._queue = queue
            self._maybePauseProducer()

    def endOfTurn(self) -> None:
        """
        Send what was written during the reactor turn that is ending; then,
        if C{loseConnection} was called and everything went, close.
        """
        pending = self._pending
        if pending is not None:
            self._pending = None
            self._sendNow(pending)
        else:
            queue = self._queue
            if queue:
                self._queue = None
                self._sendQueue(queue)
        if self.disconnecting and self._queue is None and self.connected:
            self._loseNow()

    def loseConnection(self) -> None:
        """
        Close once everything written has been sent (see
        C{twisted.internet.interfaces.ITransport.loseConnection}): at the
        end of the reactor turn, right after its send, when the kernel takes
        it all, without waiting for writability; else once the queue drains.
        """
        if self.TLS:
            # startTLS put a TLS layer in: it closes through that layer.
            super().loseConnection()
            return
        if not self.connected or self.disconnecting:
            return
        if self._writeDisconnected or self._writeDisconnecting or self._queue is _DISCARD:
            FileDescriptor.loseConnection(self)
            return
        self.stopReading()
        self.disconnecting = True
        if self._pending is None and self._queue is None:
            self._turn.add(self)
        # Otherwise bytes wait: the end of the turn sends them (and closes),
        # or, for what the kernel refuses, doWrite does once they drain.

    def _loseNow(self) -> None:
        """
        C{loseConnection} was called and nothing waits: lose the connection
        as the reactor would after C{doWrite} sent the last byte, unless a
        producer is to be asked for more first (as C{doWrite} does).
        """
        if self._producerWantsMore():
            self.startWriting()  # doWrite resumes it (and closes once it is done)
            return
        self.stopWriting()
        self.connectionLost(_CONNECTION_DONE)

    def _sendNow(self, data: bytes) -> None:
        """Send C{data}, nothing else waiting; queue what the kernel refuses."""
        try:
            sent = self.socket.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as e:
            if e.errno != ENOBUFS:
                self._sendFailed()
                return
            sent = 0
        if sent == len(data):
            self._wroteAll()
        else:
            self._startQueue(WriteQueue((memoryview(data)[sent:] if sent else data,)))

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        """
        Write several pieces of bytes, in order, as one C{sendmsg} where the
        kernel takes them: the same as writing each, without joining them.
        """
        pieces = list(iovec)
        for piece in pieces:
            _checkBytes(piece)
        queue = self._queue
        if queue is not None:
            queue.extend(pieces)
            self._maybePauseProducer()
            return
        queue = WriteQueue(pieces)
        if queue.size < self.sendAtOnceSize:
            # Small pieces: joined, they are a small write like any other.
            if queue:
                self.write(b"".join(pieces))
            return
        pending = self._pending
        if pending is not None:
            self._pending = None
            queue = WriteQueue([pending, *pieces])
        self._sendQueue(queue)

    def _sendQueue(self, queue: WriteQueue) -> None:
        """Send C{queue}, nothing else waiting; keep what the kernel refuses."""
        try:
            self._send(queue)
        except OSError:
            self._sendFailed()
            return
        if queue:
            self._startQueue(queue)
        else:
            self._wroteAll()

    def _wroteAll(self) -> None:
        """The kernel took everything that waited."""
        if self._producerWantsMore():
            # A pull producer is asked for more, and a paused one resumed,
            # from doWrite, as Twisted does: never from within a write.
            self.startWriting()

    def _startQueue(self, queue: WriteQueue) -> None:
        """The kernel refused part of a write: the rest waits for writability."""
        self._queue = queue
        self.startWriting()
        self._maybePauseProducer()

    def _send(self, queue: WriteQueue) -> None:
        """
        Send as much of C{queue} as the kernel takes now.

        @raise OSError: the connection is broken.
        """
        sock = self.socket
        while True:
            pieces = queue.head()
            count = len(pieces)
            try:
                if count == 1:
                    sent = sock.send(pieces[0])
                elif _HAVE_SENDMSG:
                    sent = sock.sendmsg(pieces)
                else:  # pragma: no cover (Windows)
                    sent = sock.send(b"".join(pieces))
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == ENOBUFS:
                    return
                raise
            if queue.consume(sent) < count or not queue:
                return

    def _sendFailed(self) -> None:
        """
        A send failed: drop everything, and let the reactor lose the
        connection with L{twisted.internet.error.ConnectionLost} (whichever of C{doRead} and
        C{doWrite} it calls next), as Twisted's own C{doWrite} would.
        """
        self._queue = _DISCARD
        self._pending = None
        self.doRead = self.doWrite = _lost  # type: ignore[method-assign]
        self.startWriting()

    def doWrite(self) -> ConnectionLost | None:
        """The socket is writable: send what waits; once all is sent, stop
        waiting for writability and do what Twisted does then."""
        pending = self._pending
        if pending is not None:
            # Before the end of the turn (registered for another reason).
            self._pending = None
            self._queue = WriteQueue((pending,))
        queue = self._queue
        if queue:
            try:
                self._send(queue)
            except OSError:
                return main.CONNECTION_LOST
            if queue:
                return None
            self._queue = None
        return self._drained()

    def _drained(self) -> Any:
        """Nothing waits any more (see L{twisted.internet.abstract.FileDescriptor.doWrite})."""
        self.stopWriting()
        if self._resumeProducer():
            return None
        if self.disconnecting:
            return self._postLoseConnection()
        if self._writeDisconnecting:
            self._writeDisconnected = True
            self._queue = _DISCARD
            return self._closeWriteConnection()
        return None

    def _producerWantsMore(self) -> bool:
        """
        Whether, once nothing waits, a producer is to be asked for more: a
        pull producer, or a streaming one that was paused.
        """
        return self.producer is not None and (not self.streamingProducer or self.producerPaused)

    def _resumeProducer(self) -> bool:
        """
        Everything was sent: ask a pull producer or a paused streaming one
        for more.  Returns whether it did.
        """
        if self._producerWantsMore():
            self.producerPaused = False
            producer: Any = self.producer
            producer.resumeProducing()
            return True
        return False

    def _isSendBufferFull(self) -> bool:
        return self.bufferedAmount > self.bufferSize

    def abortConnection(self) -> None:
        """Drop what waits and reset the connection (nothing more is sent)."""
        self._queue = _DISCARD
        self._pending = None
        super().abortConnection()

    def connectionLost(self, reason: Failure) -> None:
        self._queue = _DISCARD
        self._pending = None
        super().connectionLost(reason)

    # Reading

    def doRead(self) -> Any:
        """Read what the socket has (adaptively much) and hand it on."""
        if self._readBuffer is not None:
            window = self._readBuffer.window()
            if window is not None:
                return self._readIntoBuffer(window)
            self._readBufferDone()
        size = self._readSize
        try:
            data = self.socket.recv(size)
        except BlockingIOError:
            return None
        except OSError:
            return main.CONNECTION_LOST
        if not data:
            return main.CONNECTION_DONE
        if len(data) == size or size != self.minReadSize:
            self._readSize = nextReadSize(size, len(data), self.minReadSize, self.maxReadSize)
        self.protocol.dataReceived(data)
        return None


    # Reading into a buffer of the protocol's

    _readBuffer: ReadBuffer | None = None

    def readInto(self, buffer: ReadBuffer) -> None:
        """
        Read the next bytes into C{buffer} rather than into new C{bytes}:
        until its C{window()} is C{None}, each read goes into that window,
        is reported with C{buffer.advance(count)}, and the protocol is then
        told with C{dataReceived(b"")} (so that every layer above runs as
        for any read, and finds the bytes in the buffer).  Reads never go
        past the window, so the bytes after it come as usual.  For a
        protocol that knows the size of what comes next (a large WebSocket
        frame), this saves copying it out of the bytes read.

        Calling it again with the same buffer changes nothing.
        """
        self._readBuffer = buffer

    def _readBufferDone(self) -> None:
        """
        The buffer of L{readInto} wants no more: back to reads of new
        C{bytes}, starting small again, so that the next large message's
        first read takes little of it into C{bytes} before its own buffer
        takes over (the reads that grew the size went into a buffer).
        """
        del self._readBuffer
        self._readSize = self.minReadSize

    def _readIntoBuffer(self, window: memoryview) -> Any:
        """Read into C{window}, a part of C{self._readBuffer} (see L{readInto})."""
        try:
            count = self.socket.recv_into(window)
        except BlockingIOError:
            return None
        except OSError:
            return main.CONNECTION_LOST
        finally:
            # No view of the buffer may outlive the read: once complete,
            # the protocol hands the buffer's bytes on as immutable.
            window.release()
        if not count:
            return main.CONNECTION_DONE
        buffer = self._readBuffer
        assert buffer is not None
        buffer.advance(count)
        self.protocol.dataReceived(b"")
        return None


class ReadBuffer(Protocol):
    """
    What L{WriteThroughConnection.readInto} reads into (such as
    L{ratchet_tx.websocket.codecs.hybi.PayloadBuffer}).
    """

    def window(self) -> memoryview | None:
        """Where the next bytes go (writable), or C{None} once it wants no more."""

    def advance(self, count: int) -> None:
        """C{count} bytes were read into the last C{window()}."""


class WriteThroughServer(WriteThroughConnection, tcp.Server):
    """The server side of a TCP connection, writing through to its socket."""

    if hasattr(tcp.Server, "startTLS"):

        def startTLS(self, ctx: Any, normal: bool = True) -> None:
            """
            Start TLS on this connection (see
            C{twisted.internet.interfaces.ITLSTransport.startTLS}).
            """
            from twisted.internet._newtls import startTLS

            self.__dict__.pop("_readBuffer", None)  # plain bytes no more
            self.__class__ = _TLSWriteThroughServer
            startTLS(self, ctx, normal, _SocketWrites)


class _TLSWriteThroughServer(WriteThroughServer):
    """
    A L{WriteThroughServer} after C{startTLS}: what the protocol writes goes
    through the TLS layer, which writes to the socket through L{_SocketWrites}.
    """

    def write(self, data: bytes) -> None:
        if not self.TLS:
            WriteThroughServer.write(self, data)
        elif self.connected:
            self._tls.write(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        if not self.TLS:
            WriteThroughServer.writeSequence(self, iovec)
        elif self.connected:
            self._tls.writeSequence(iovec)

    def readInto(self, buffer: ReadBuffer) -> None:
        # What the socket holds is TLS records now, not the protocol's bytes.
        if not self.TLS:
            WriteThroughServer.readInto(self, buffer)

    @property
    def _tls(self) -> Any:
        """The TLS layer C{startTLS} put between the socket and the protocol."""
        return self.protocol


class _SocketWrites:
    """
    What the TLS layer of C{startTLS} calls to reach the socket itself,
    beneath the TLS checks (Twisted passes L{FileDescriptor} for its own
    transport): our writes, and Twisted's producer and closing methods.
    """

    write = WriteThroughConnection.write
    writeSequence = WriteThroughConnection.writeSequence
    loseConnection = FileDescriptor.loseConnection
    registerProducer = FileDescriptor.registerProducer
    unregisterProducer = FileDescriptor.unregisterProducer


class WriteThroughPort(tcp.Port):
    """A TCP listening port whose connections are L{WriteThroughServer}s."""

    transport = WriteThroughServer


class WriteThroughClient(WriteThroughConnection, tcp.Client):
    """
    The client side of a TCP connection, writing through to its socket once
    connected (Twisted's C{tcp.Client} connects it).
    """


class WriteThroughConnector(tcp.Connector):
    """A TCP connector whose connections are L{WriteThroughClient}s."""

    def _makeTransport(self) -> WriteThroughClient:
        return WriteThroughClient(self.host, self.port, self.bindAddress, self, self.reactor)
