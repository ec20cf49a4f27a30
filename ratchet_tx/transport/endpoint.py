# -*- test-case-name: tests.transport.test_endpoint -*-
"""
How the write-through transport is used: an endpoint, and endpoint
descriptions that choose it for C{tcp:} and Twisted's own endpoints for
everything else::

    serverFromString(reactor, "tcp:8080:interface=127.0.0.1")   # ours
    serverFromString(reactor, "ssl:8443:privateKey=key.pem")    # Twisted's
"""

from __future__ import annotations

import inspect
import socket
from typing import Any

from twisted.internet import endpoints, tcp
from twisted.internet.defer import Deferred, execute
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.internet.posixbase import PosixReactorBase
from zope.interface import implementer

from ratchet_tx.transport.tcp import WriteThroughPort

#: Twisted's default listen backlog.
DEFAULT_BACKLOG = 50


def _reusePortSupported() -> bool:
    makeBinding = getattr(tcp, "makeBinding", None)
    if makeBinding is None or not hasattr(socket, "SO_REUSEPORT"):
        return False
    return "reusePort" in inspect.signature(makeBinding).parameters


#: Whether a port can be shared by several processes here: the platform has
#: C{SO_REUSEPORT} and Twisted's C{makeBinding} sets it (Twisted 26.10).
REUSE_PORT_SUPPORTED = _reusePortSupported()


@implementer(IStreamServerEndpoint)
class TCPServerEndpoint:
    """
    A TCP server endpoint whose connections use L{WriteThroughServer}: the
    same arguments as Twisted's
    L{twisted.internet.endpoints.TCP4ServerEndpoint} (an IPv6 C{interface}
    such as C{"::1"} listens on IPv6).

    On a reactor that does not watch file descriptors the POSIX way (one
    that is not a L{twisted.internet.posixbase.PosixReactorBase}: Windows' IOCP reactor, a test's
    C{MemoryReactor}) it listens with C{reactor.listenTCP}: Twisted's own
    transport.

    @ivar port: the port number (0: any free port).
    @ivar backlog: the size of the listen queue.
    @ivar interface: the address to listen on (C{""}: every IPv4 address).
    @ivar reusePort: whether to set C{SO_REUSEPORT}, so that several
        processes listen on the port and the kernel spreads the connections
        over them (L{ratchet_tx.workers}); needs Twisted's
        C{makeBinding(reusePort=True)}, from Twisted 26.10.
    """

    def __init__(
        self,
        reactor: Any,
        port: int,
        backlog: int = DEFAULT_BACKLOG,
        interface: str = "",
        reusePort: bool = False,
    ) -> None:
        if reusePort and not REUSE_PORT_SUPPORTED:
            raise ValueError(
                "reusePort needs SO_REUSEPORT and Twisted 26.10 or later (makeBinding's reusePort)"
            )
        self._reactor = reactor
        self.port = port
        self.backlog = backlog
        self.interface = interface
        self.reusePort = reusePort

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        """Listen with C{protocolFactory}; fires with the listening port."""
        return execute(self._listen, protocolFactory)

    def _listen(self, factory: IProtocolFactory) -> IListeningPort:
        if not isinstance(self._reactor, PosixReactorBase):
            if self.reusePort:
                raise ValueError("reusePort needs a POSIX reactor")
            plain: IListeningPort = self._reactor.listenTCP(
                self.port, factory, backlog=self.backlog, interface=self.interface
            )
            return plain
        port: Any = self.port
        if self.reusePort:
            port = tcp.makeBinding(self.interface, self.port, reuseAddress=True, reusePort=True)
        listening = WriteThroughPort(port, factory, self.backlog, self.interface, self._reactor)
        listening.startListening()
        return listening

    def __repr__(self) -> str:
        shared = " reusePort" if self.reusePort else ""
        return f"<{type(self).__name__} {self.interface or '*'}:{self.port}{shared}>"


def serverFromString(reactor: Any, description: str) -> IStreamServerEndpoint:
    """
    The server endpoint a description names, as Twisted's
    L{twisted.internet.endpoints.serverFromString} reads it, but a C{tcp:}
    one (C{tcp:PORT}, with C{interface=} and C{backlog=} if given) is a
    L{TCPServerEndpoint}; C{reusePort=yes} there sets C{SO_REUSEPORT}
    (L{TCPServerEndpoint.reusePort}).

    @raise ValueError: the description does not parse (as from Twisted).
    @raise TypeError: a C{tcp:} description has an unknown parameter.
    """
    args, kwargs = parseDescription(description)
    if args and args[0] == "tcp":
        return _tcp(reactor, *args[1:], **kwargs)
    endpoint: IStreamServerEndpoint = endpoints.serverFromString(reactor, description)
    return endpoint


def _tcp(
    reactor: Any,
    port: str,
    interface: str = "",
    backlog: str = str(DEFAULT_BACKLOG),
    reusePort: str = "no",
) -> TCPServerEndpoint:
    """The endpoint of C{tcp:PORT:interface=...:backlog=...:reusePort=yes}."""
    if reusePort not in ("yes", "no"):
        raise ValueError(f"reusePort takes yes or no, not {reusePort!r}")
    return TCPServerEndpoint(reactor, int(port), int(backlog), interface, reusePort == "yes")


def parseDescription(description: str) -> tuple[list[str], dict[str, str]]:
    """
    Split an endpoint description into its positional and keyword
    parameters, by Twisted's grammar: C{:} separates parameters, the first
    C{=} in one makes it a keyword parameter, and a backslash takes the
    character after it as it is (C{interface=\\:\\:1}).

        >>> parseDescription("tcp:8080:interface=127.0.0.1")
        (['tcp', '8080'], {'interface': '127.0.0.1'})

    @raise ValueError: the description ends with a lone backslash.
    """
    args: list[str] = []
    kwargs: dict[str, str] = {}
    parameter: list[str] = []
    current: list[str] = []
    characters = iter(description)
    for character in characters:
        if character == "\\":
            escaped = next(characters, None)
            if escaped is None:
                raise ValueError(f"endpoint description ends with a backslash: {description!r}")
            current.append(escaped)
        elif character == ":":
            parameter.append("".join(current))
            _add(parameter, args, kwargs)
            parameter, current = [], []
        elif character == "=" and not parameter:
            parameter.append("".join(current))
            current = []
        else:
            current.append(character)
    parameter.append("".join(current))
    _add(parameter, args, kwargs)
    return args, kwargs


def _add(parameter: list[str], args: list[str], kwargs: dict[str, str]) -> None:
    if len(parameter) == 1:
        args.append(parameter[0])
    else:
        kwargs[parameter[0]] = parameter[1]
