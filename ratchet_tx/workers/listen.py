# -*- test-case-name: tests.workers.test_listen -*-
"""
One port for every worker: the supervisor holds it, the workers share it.

Each worker listens on the port itself with C{SO_REUSEPORT}
(C{tcp:PORT:reusePort=yes}, through Twisted's
C{makeBinding(reusePort=True)}), and the kernel spreads new connections
over the workers' listening sockets.  The supervisor binds the port first
(with C{SO_REUSEPORT} too, never listening: the kernel gives connections
only to listening sockets), so that:

  - a port in use or not allowed is refused once, by the supervisor, before
    any worker starts;
  - C{tcp:0} becomes one port number, the same for every worker;
  - the port stays taken while a worker restarts, even if it was the last.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from twisted.internet.error import CannotListenError

from ratchet_tx.transport.endpoint import parseDescription


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def checkShareable(description: str) -> None:
    """
    Check that the workers can share the endpoint C{description}: a C{tcp:}
    one, not C{reusePort} already.

    @raise ValueError: with what is wrong, in one line.
    """
    args, kwargs = parseDescription(description)
    kind = args[0] if args else ""
    if kind != "tcp":
        raise ValueError(
            f"workers share tcp: listeners only, not {kind or description!r} (run one "
            "process per endpoint of another kind, or put TLS in front)"
        )
    if "reusePort" in kwargs:
        raise ValueError("the workers set reusePort themselves")


@dataclass
class PortReservation:
    """
    The supervisor's hold on one C{tcp:} endpoint's port (see the module
    docstring).

    @ivar description: the endpoint as given, e.g. C{tcp:0:interface=127.0.0.1}.
    """

    description: str
    _socket: socket.socket | None = None

    def reserve(self) -> None:
        """
        Bind the port, with C{SO_REUSEADDR} and C{SO_REUSEPORT}.

        @raise CannotListenError: it cannot be bound.
        """
        args, kwargs = parseDescription(self.description)
        port = int(args[1] if len(args) > 1 else kwargs.get("port", "0"))
        interface = kwargs.get("interface", "")
        family = socket.AF_INET6 if ":" in interface else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((interface, port))
        except OSError as e:
            sock.close()
            raise CannotListenError(interface, port, e) from None
        self._socket = sock

    @property
    def port(self) -> int:
        """The port number held (the one chosen, for C{tcp:0})."""
        if self._socket is None:
            raise RuntimeError("no port is reserved")
        port: int = self._socket.getsockname()[1]
        return port

    def workerDescription(self) -> str:
        """
        The endpoint for a worker: this port, by number, shared
        (C{reusePort=yes}), with the interface and backlog as given.
        """
        args, kwargs = parseDescription(self.description)
        kwargs.pop("port", None)
        kwargs["reusePort"] = "yes"
        keywords = "".join(f":{key}={_escaped(value)}" for key, value in kwargs.items())
        return f"tcp:{self.port}{keywords}"

    def release(self) -> None:
        """Let go of the port (after the last worker is gone)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
