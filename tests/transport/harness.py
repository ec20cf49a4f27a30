"""
Real loopback sockets on a private reactor, pumped by the test itself.

Each test gets its own reactor (epoll, poll or select), listens on a free
loopback port with one of the transports under test (Twisted's own
L{twisted.internet.tcp.Server}, or L{WriteThroughServer}), and talks to it
through L{Peer}s: plain non-blocking sockets that the harness reads between
reactor iterations (unless told to stop reading, to fill buffers up).  No
thread and no global reactor: the test decides when each side runs.

    class Closing(TransportHarness):
        def test_eof(self):
            server, peer = self.connect()
            server.transport.loseConnection()
            self.runUntil(lambda: peer.eof)

    globals().update(everyTransport(Closing))

L{everyTransport} makes one test case class per transport and reactor, so
every test runs against Twisted's transport (the behaviour to match) and ours.
When a test ends, the harness checks what a leak would leave: a server
connection not lost, a listening port, a delayed call, a reader or writer
registered, a file descriptor more than at its start.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import tcp
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.pollreactor import PollReactor
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.selectreactor import SelectReactor
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.transport import TCPServerEndpoint

#: Seconds any wait on a real socket may take (the machine is shared).
TIMEOUT = 15.0
#: The reactors a test may run on.
REACTORS: dict[str, Callable[[], Any]] = {
    "epoll": EPollReactor,
    "poll": PollReactor,
    "select": SelectReactor,
}
#: Every transport under test, by name: the endpoint that listens with it.
TRANSPORTS: dict[str, Callable[..., Any]] = {
    "twisted": TCP4ServerEndpoint,
    "writethrough": TCPServerEndpoint,
}
#: (transport, reactor) pairs: Twisted's transport on the default reactor as
#: the reference, ours on every reactor.
MATRIX = [
    ("twisted", "epoll"),
    ("writethrough", "epoll"),
    ("writethrough", "poll"),
    ("writethrough", "select"),
]


def openFileDescriptors() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


class Recorder(Protocol):
    """
    A server protocol that records what happens to it.

    @ivar received: every byte received, in order.
    @ivar chunkTypes: the type of each piece C{dataReceived} was given.
    @ivar chunkSizes: the size of each.
    @ivar events: C{"made"}, C{"readConnectionLost"}, ... in order (no
        C{dataReceived}: see C{received}).
    @ivar lost: the reason of each C{connectionLost} call (one, or a bug).
    """

    transport: Any

    def __init__(self) -> None:
        self.received = bytearray()
        self.chunkTypes: list[type] = []
        self.chunkSizes: list[int] = []
        self.events: list[str] = []
        self.lost: list[Failure] = []

    def connectionMade(self) -> None:
        self.events.append("made")

    def dataReceived(self, data: bytes) -> None:
        self.chunkTypes.append(type(data))
        self.chunkSizes.append(len(data))
        self.received += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.events.append("lost")
        self.lost.append(reason)


class RecordingFactory(Factory):
    """Builds L{Recorder}s (or C{protocol}) and keeps every one it built."""

    def __init__(self, protocol: type[Recorder] = Recorder) -> None:
        self.recorder = protocol
        self.built: list[Recorder] = []

    def buildProtocol(self, addr: Any) -> Recorder:
        proto = self.recorder()
        proto.factory = self
        self.built.append(proto)
        return proto


class Peer:
    """
    The client end: a non-blocking socket that the harness reads (while
    C{reading}) and writes (what C{send} could not send at once) between
    reactor iterations.

    @ivar received: every byte read so far.
    @ivar eof: the server closed its write side (a read returned nothing).
    @ivar reset: the connection was reset (a read or write failed).
    """

    def __init__(
        self,
        address: tuple[Any, ...],
        family: int = socket.AF_INET,
        receiveBuffer: int | None = None,
    ) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if receiveBuffer is not None:
            # Before connecting, so that the window is agreed to match.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer)
        self.sock.setblocking(False)
        self.sock.connect_ex(address)
        self.received = bytearray()
        self.reading = True
        self.eof = False
        self.reset = False
        self._pending = b""

    def send(self, data: bytes) -> None:
        """Send C{data}, now or as the socket lets the harness."""
        self._pending += data
        self._flush()

    def pump(self) -> None:
        """Send what waits, and read what there is if C{reading}."""
        if self.sock.fileno() == -1:
            return
        self._flush()
        while self.reading and not (self.eof or self.reset):
            try:
                chunk = self.sock.recv(1 << 20)
            except BlockingIOError:
                return
            except ConnectionResetError:
                self.reset = True
                return
            if not chunk:
                self.eof = True
                return
            self.received += chunk

    def _flush(self) -> None:
        while self._pending and not self.reset:
            try:
                sent = self.sock.send(self._pending)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno not in (errno.EPIPE, errno.ECONNRESET):
                    raise
                self.reset = True
                return
            self._pending = self._pending[sent:]

    @property
    def sending(self) -> bool:
        """Bytes given to L{send} still wait to be sent."""
        return bool(self._pending)

    def shutdownWrite(self) -> None:
        """Half-close: send FIN, keep reading."""
        self.sock.shutdown(socket.SHUT_WR)

    def abort(self) -> None:
        """Close with a reset (RST) instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        if self.sock.fileno() != -1:
            self.sock.close()


def pattern(size: int, seed: int = 0) -> bytes:
    """C{size} bytes in which any misplaced or lost run shows."""
    block = b"".join(struct.pack(">I", (seed * 1_000_003 + i) % 2**32) for i in range(16384))
    return (block * (size // len(block) + 1))[:size]


if TYPE_CHECKING:
    _TestCase = SynchronousTestCase
else:
    _TestCase = object


class TransportHarness(_TestCase):
    """
    Mixed into a L{SynchronousTestCase} by L{everyTransport}, which sets
    C{transportName} and C{reactorName}.
    """

    transportName: str
    reactorName: str

    def setUp(self) -> None:
        # Twisted keeps one descriptor reserved (for EMFILE) from the first
        # listen on: open it before counting.
        tcp._reservedFD.reserve()
        fds = openFileDescriptors()
        self.addCleanup(self._checkDescriptors, fds)
        self.reactor = REACTORS[self.reactorName]()
        self.addCleanup(self._closeReactor)
        self.factory = RecordingFactory()
        self.peers: list[Peer] = []
        self.ports: list[Any] = []
        self.addCleanup(self._closeConnections)

    @property
    def writeThrough(self) -> bool:
        """Whether the transport under test is ours."""
        return self.transportName == "writethrough"

    # Running

    def iterate(self, delay: float = 0.002) -> None:
        """One reactor iteration, then every peer's turn."""
        self.reactor.iterate(delay)
        for peer in self.peers:
            peer.pump()

    def runUntil(self, condition: Callable[[], object], timeout: float = TIMEOUT) -> None:
        """Iterate until C{condition()} is true; fail after C{timeout} seconds."""
        deadline = time.monotonic() + timeout
        for peer in self.peers:
            peer.pump()
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f"not true within {timeout} s: {condition}")
            self.iterate()

    def assertArrives(self, peer: Peer, expected: bytes) -> None:
        """Iterate until C{peer} has as many bytes as C{expected}: those."""
        self.runUntil(lambda: len(peer.received) >= len(expected))
        self.assertEqual(bytes(peer.received), expected)

    def settle(self, seconds: float = 0.1) -> None:
        """Iterate for C{seconds}: let whatever would happen happen."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.iterate()

    # Connecting

    def listen(self, factory: Factory | None = None, interface: str = "127.0.0.1") -> Any:
        """Listen on a free port of C{interface} with the transport under test."""
        endpoint = TRANSPORTS[self.transportName](self.reactor, 0, interface=interface)
        ports: list[Any] = []
        endpoint.listen(factory or self.factory).addCallback(ports.append)
        self.ports.append(ports[0])
        return ports[0]

    def connect(
        self,
        protocol: type[Recorder] | None = None,
        receiveBuffer: int | None = None,
        interface: str = "127.0.0.1",
    ) -> tuple[Any, Peer]:
        """
        Listen (with a factory of C{protocol}), connect a L{Peer}, and
        return the server's protocol once it is connected, and the peer.
        """
        factory = RecordingFactory(protocol) if protocol is not None else self.factory
        built = len(factory.built)
        port = self.listen(factory, interface)
        family = socket.AF_INET6 if ":" in interface else socket.AF_INET
        peer = Peer((interface, port.getHost().port), family, receiveBuffer)
        self.peers.append(peer)
        self.runUntil(lambda: len(factory.built) > built)
        server = factory.built[-1]
        self.runUntil(lambda: server.events)
        return server, peer

    # Cleaning up

    def _closeConnections(self) -> None:
        for peer in self.peers:
            peer.reading = True
        built = [proto for port in self.ports for proto in port.factory.built]
        for peer in self.peers:
            peer.close()
        for proto in built:
            if not proto.lost and proto.transport.connected:
                # Paused servers do not see the peer go: drop them.
                proto.transport.abortConnection()
        self.runUntil(lambda: all(proto.lost for proto in built))
        stopped: list[object] = []
        for port in self.ports:
            port.stopListening().addBoth(stopped.append)
        self.runUntil(lambda: len(stopped) == len(self.ports))
        self.assertEqual(self.reactor.getDelayedCalls(), [], "delayed calls left behind")
        internal = set(self.reactor._internalReaders)
        self.assertEqual(
            [r for r in self.reactor.getReaders() if r not in internal], [], "readers left"
        )
        self.assertEqual(self.reactor.getWriters(), [], "writers left")

    def _closeReactor(self) -> None:
        reactor = self.reactor
        for reader in list(reactor._internalReaders):
            reactor.removeReader(reader)
            reader.connectionLost(None)
        reactor._internalReaders.clear()
        poller = getattr(reactor, "_poller", None)
        if poller is not None and hasattr(poller, "close"):
            poller.close()

    def _checkDescriptors(self, before: int) -> None:
        self.assertEqual(openFileDescriptors(), before, "file descriptors leaked")


def everyTransport(
    harness: type, matrix: list[tuple[str, str]] = MATRIX
) -> dict[str, type[SynchronousTestCase]]:
    """
    One test case class per (transport, reactor) of C{matrix}, for
    C{globals().update(...)} in the test module.
    """
    classes = {}
    for transportName, reactorName in matrix:
        name = f"{harness.__name__}_{transportName}_{reactorName}"
        classes[name] = type(
            name,
            (harness, SynchronousTestCase),
            {
                "transportName": transportName,
                "reactorName": reactorName,
                "__module__": harness.__module__,
            },
        )
    return classes
