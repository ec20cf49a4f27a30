# -*- test-case-name: tests.transport.test_client -*-
"""
The write-through transport for the connections a client makes.

L{hostnameEndpoint} is Twisted's L{twisted.internet.endpoints.HostnameEndpoint}
(name resolution, IPv6 and IPv4 addresses tried as Twisted tries them,
cancellation, the connection timeout) whose TCP connections are
L{WriteThroughClient}s: what a client writes goes to the socket at the end
of the reactor turn, or within C{write} when it is large, as a
L{ratchet_tx.transport.WriteThroughServer}'s does::

    endpoint = hostnameEndpoint(reactor, "127.0.0.1", 8080, timeout=10)
    endpoint.connect(factory)

On a reactor that does not watch file descriptors the POSIX way (one that is
not a L{twisted.internet.posixbase.PosixReactorBase}: Windows' IOCP reactor,
a test's C{MemoryReactor}) it is Twisted's own endpoint and transport.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.interfaces import IConnector
from twisted.internet.posixbase import PosixReactorBase
from twisted.internet.protocol import ClientFactory
from zope.interface import directlyProvides, providedBy

from ratchet_tx.transport.tcp import WriteThroughConnector


class _WriteThroughTCP:
    """
    A reactor as a C{HostnameEndpoint} sees it: the reactor itself (every
    attribute, every interface it provides), but C{connectTCP} makes
    L{WriteThroughConnector}s.
    """

    def __init__(self, reactor: PosixReactorBase) -> None:
        self._reactor = reactor
        directlyProvides(self, providedBy(reactor))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: ClientFactory,
        timeout: float = 30.0,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector:
        """Connect as C{reactor.connectTCP} does, with a write-through transport."""
        connector = WriteThroughConnector(host, port, factory, timeout, bindAddress, self._reactor)
        connector.connect()
        return connector


def hostnameEndpoint(reactor: Any, host: str, port: int, timeout: float = 30.0) -> HostnameEndpoint:
    """
    A C{HostnameEndpoint} to C{host} and C{port} whose connections write
    through to their sockets (see the module docstring).

    @param timeout: seconds to wait for the TCP connection.
    """
    if isinstance(reactor, PosixReactorBase):
        return HostnameEndpoint(_WriteThroughTCP(reactor), host, port, timeout=timeout)
    return HostnameEndpoint(reactor, host, port, timeout=timeout)
