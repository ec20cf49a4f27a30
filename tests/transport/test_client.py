"""
Tests for L{ratchet_tx.transport.client}: the connections a client makes
through L{hostnameEndpoint} write through to their sockets, on real loopback
sockets; on a reactor that is not POSIX's, Twisted's own transport is used.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Factory, Protocol, ServerFactory
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from ratchet_tx.transport import WriteThroughClient, hostnameEndpoint


class Collect(Protocol):
    """The server's end: keeps what arrives, fires C{done} on the connection's loss."""

    def __init__(self) -> None:
        self.received = b""
        self.done: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: object = None) -> None:
        self.done.callback(self.received)


class HostnameEndpointTests(TestCase):
    def listen(self) -> tuple[int, list[Collect]]:
        servers: list[Collect] = []

        def build() -> Collect:
            servers.append(Collect())
            return servers[-1]

        port = cast(Any, reactor).listenTCP(
            0, ServerFactory.forProtocol(build), interface="127.0.0.1"
        )
        self.addCleanup(port.stopListening)
        return port.getHost().port, servers

    @inlineCallbacks
    def test_writesThrough(self) -> Any:
        """
        The client's transport is a L{WriteThroughClient}; small writes,
        a large one and a sequence arrive whole and in order, and closing
        sends everything first.
        """
        portNumber, servers = self.listen()
        endpoint = hostnameEndpoint(reactor, "127.0.0.1", portNumber, timeout=5)
        proto = yield endpoint.connect(Factory.forProtocol(Protocol))
        self.assertIsInstance(proto.transport, WriteThroughClient)
        large = bytes(range(256)) * 4096  # 1 MiB: sent within write
        proto.transport.write(b"small ")
        proto.transport.write(b"writes ")
        proto.transport.write(large)
        proto.transport.writeSequence([b"and ", b"a ", b"sequence"])
        proto.transport.loseConnection()
        while not servers:  # the server's end may be built after ours
            yield deferLater(0.01)
        received = yield servers[0].done
        self.assertEqual(received, b"small writes " + large + b"and a sequence")

    @inlineCallbacks
    def test_logPrefixAndFileno(self) -> Any:
        """
        The client's transport logs as Twisted's does (C{<protocol>,client}),
        and C{fileno} is its socket's until the connection is lost, then -1.
        """
        portNumber, servers = self.listen()
        endpoint = hostnameEndpoint(reactor, "127.0.0.1", portNumber, timeout=5)
        proto = yield endpoint.connect(Factory.forProtocol(Protocol))
        transport = proto.transport
        self.assertEqual(transport.logPrefix(), "Protocol,client")
        self.assertEqual(transport.fileno(), transport.socket.fileno())
        self.assertNotIn("fileno", vars(transport))
        self.assertFalse(hasattr(transport, "client"))  # a server's peer tuple, as in Twisted
        transport.loseConnection()
        while not servers:
            yield deferLater(0.01)
        yield servers[0].done
        while transport.connected:
            yield deferLater(0.01)
        self.assertEqual(transport.fileno(), -1)

    @inlineCallbacks
    def test_refused(self) -> Any:
        portNumber, _ = self.listen()
        # Nothing listens once the port is closed.
        port = cast(Any, reactor).listenTCP(0, ServerFactory.forProtocol(Protocol))
        free = port.getHost().port
        yield port.stopListening()
        self.assertNotEqual(free, portNumber)
        endpoint = hostnameEndpoint(reactor, "127.0.0.1", free, timeout=5)
        yield self.assertFailure(
            endpoint.connect(Factory.forProtocol(Protocol)), ConnectionRefusedError
        )


def deferLater(seconds: float) -> Deferred[None]:
    d: Deferred[None] = Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d


class OtherReactorTests(SynchronousTestCase):
    def test_twistedsOwn(self) -> None:
        """A reactor that is not POSIX's connects with its own C{connectTCP}."""
        fake = MemoryReactorClock()
        endpoint = hostnameEndpoint(fake, "127.0.0.1", 8080, timeout=3)
        endpoint.connect(Factory.forProtocol(Protocol))
        [(host, port, _factory, timeout, _bind)] = fake.tcpClients
        self.assertEqual((host, port, timeout), ("127.0.0.1", 8080, 3))
