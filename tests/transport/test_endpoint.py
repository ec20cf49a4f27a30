"""
Tests for L{ratchet_tx.transport.endpoint}: C{tcp:} descriptions get the
write-through transport, every other one Twisted's own endpoint.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import reactor
from twisted.internet.endpoints import (
    SSL4ServerEndpoint,
    TCP6ServerEndpoint,
    UNIXServerEndpoint,
    _parse,
)
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from ratchet_tx.transport import (
    TCPServerEndpoint,
    WriteThroughPort,
    WriteThroughServer,
    parseDescription,
    serverFromString,
)
from tests.integration.test_tls import makeCertificate


class ParseDescriptionTests(SynchronousTestCase):
    def test_tcp(self) -> None:
        self.assertEqual(
            parseDescription("tcp:8080:interface=127.0.0.1:backlog=5"),
            (["tcp", "8080"], {"interface": "127.0.0.1", "backlog": "5"}),
        )

    def test_escapes(self) -> None:
        self.assertEqual(
            parseDescription(r"tcp:0:interface=\:\:1"), (["tcp", "0"], {"interface": "::1"})
        )

    def test_equalsInAValue(self) -> None:
        self.assertEqual(parseDescription("x:a=b=c"), (["x"], {"a": "b=c"}))

    def test_loneBackslash(self) -> None:
        self.assertRaises(ValueError, parseDescription, "tcp:80\\")

    @given(st.text(alphabet=":=\\ab1", max_size=20).filter(lambda s: not s.endswith("\\")))
    def test_sameAsTwisted(self, description: str) -> None:
        """Twisted's own parser reads every description the same way."""
        if (len(description) - len(description.rstrip("\\"))) % 2:
            return  # ends with an escaping backslash: an error for both
        self.assertEqual(parseDescription(description), _parse(description))


def tcpEndpoint(description: str) -> TCPServerEndpoint:
    endpoint = serverFromString(reactor, description)
    assert isinstance(endpoint, TCPServerEndpoint), endpoint
    return endpoint


class ServerFromStringTests(SynchronousTestCase):
    def test_tcp(self) -> None:
        endpoint = tcpEndpoint("tcp:8080")
        self.assertEqual((endpoint.port, endpoint.backlog, endpoint.interface), (8080, 50, ""))
        self.assertTrue(verifyObject(IStreamServerEndpoint, endpoint))

    def test_tcpOptions(self) -> None:
        endpoint = tcpEndpoint("tcp:port=0:backlog=1024:interface=127.0.0.1")
        self.assertEqual(
            (endpoint.port, endpoint.backlog, endpoint.interface), (0, 1024, "127.0.0.1")
        )

    def test_tcpIPv6Interface(self) -> None:
        endpoint = tcpEndpoint(r"tcp:0:interface=\:\:1")
        self.assertEqual(endpoint.interface, "::1")

    def test_tcpReusePort(self) -> None:
        self.assertTrue(tcpEndpoint("tcp:0:reusePort=yes").reusePort)
        self.assertFalse(tcpEndpoint("tcp:0:reusePort=no").reusePort)
        self.assertFalse(tcpEndpoint("tcp:0").reusePort)
        self.assertRaises(ValueError, serverFromString, reactor, "tcp:0:reusePort=maybe")

    def test_twoReusePortListenersShareAPort(self) -> None:
        """C{reusePort=yes} sets C{SO_REUSEPORT}: a second listener may bind the port."""
        first = tcpEndpoint("tcp:0:interface=127.0.0.1:reusePort=yes")
        port = self.successResultOf(first.listen(Factory.forProtocol(Protocol)))
        self.addCleanup(port.stopListening)
        number = port.getHost().port
        second = tcpEndpoint(f"tcp:{number}:interface=127.0.0.1:reusePort=yes")
        other = self.successResultOf(second.listen(Factory.forProtocol(Protocol)))
        self.addCleanup(other.stopListening)
        self.assertEqual(other.getHost().port, number)
        plain = tcpEndpoint(f"tcp:{number}:interface=127.0.0.1")
        self.failureResultOf(plain.listen(Factory.forProtocol(Protocol)), CannotListenError)

    def test_tcpErrors(self) -> None:
        """What Twisted refuses, refused the same way."""
        self.assertRaises(ValueError, serverFromString, reactor, "tcp:notaport")
        self.assertRaises(ValueError, serverFromString, reactor, "tcp:80:backlog=many")
        self.assertRaises(TypeError, serverFromString, reactor, "tcp:80:colour=blue")
        self.assertRaises(TypeError, serverFromString, reactor, "tcp")
        self.assertRaises(TypeError, serverFromString, reactor, "tcp:interface=127.0.0.1")

    def test_othersAreTwisted(self) -> None:
        self.assertIsInstance(serverFromString(reactor, "unix:/tmp/x.sock"), UNIXServerEndpoint)
        self.assertIsInstance(serverFromString(reactor, "tcp6:8080"), TCP6ServerEndpoint)
        key = os.path.join(os.path.dirname(__file__), "missing.pem")
        # ssl: parses its files at once: a missing one is Twisted's own error.
        self.assertRaises(OSError, serverFromString, reactor, f"ssl:8443:privateKey={key}")
        self.assertRaises(ValueError, serverFromString, reactor, "nosuchkind:80")

    def test_ssl(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="endpoint-tls-"))
        self.addCleanup(shutil.rmtree, directory, True)
        key, cert = makeCertificate(directory)
        endpoint = serverFromString(reactor, f"ssl:0:privateKey={key}:certKey={cert}")
        self.assertIsInstance(endpoint, SSL4ServerEndpoint)


class TCPServerEndpointTests(TestCase):
    """Listening on the real reactor."""

    def test_listen(self):
        endpoint = TCPServerEndpoint(reactor, 0, interface="127.0.0.1")
        factory = Factory.forProtocol(Protocol)

        def listening(port) -> None:
            self.addCleanup(port.stopListening)
            self.assertIsInstance(port, WriteThroughPort)
            self.assertTrue(verifyObject(IListeningPort, port))
            self.assertEqual(port.getHost().host, "127.0.0.1")
            self.assertIs(port.transport, WriteThroughServer)

        return endpoint.listen(factory).addCallback(listening)

    def test_backlog(self):
        def listening(port) -> None:
            self.addCleanup(port.stopListening)
            self.assertEqual(port.backlog, 7)

        endpoint = TCPServerEndpoint(reactor, 0, backlog=7, interface="127.0.0.1")
        return endpoint.listen(Factory.forProtocol(Protocol)).addCallback(listening)

    def test_portInUse(self):
        """A port that is taken fails the Deferred with CannotListenError."""
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        self.addCleanup(busy.close)
        endpoint = TCPServerEndpoint(reactor, busy.getsockname()[1], interface="127.0.0.1")
        return self.assertFailure(endpoint.listen(Factory.forProtocol(Protocol)), CannotListenError)

    def test_otherReactors(self):
        """A reactor without IReactorFDSet listens with its own listenTCP."""
        memory = MemoryReactor()
        endpoint = TCPServerEndpoint(memory, 8080, backlog=3, interface="127.0.0.1")
        factory = Factory.forProtocol(Protocol)
        ports: list[object] = []
        endpoint.listen(factory).addCallback(ports.append)
        self.assertEqual(len(ports), 1)
        self.assertEqual(memory.tcpServers, [(8080, factory, 3, "127.0.0.1")])

    def test_repr(self):
        self.assertEqual(
            repr(TCPServerEndpoint(reactor, 80, interface="::1")), "<TCPServerEndpoint ::1:80>"
        )
        self.assertEqual(repr(TCPServerEndpoint(reactor, 80)), "<TCPServerEndpoint *:80>")
