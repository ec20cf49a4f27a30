# -*- test-case-name: tests.transport -*-
"""
A write-through TCP transport for ratchet_tx's plain-TCP listeners, and for
the connections its client makes (L{hostnameEndpoint}).

Twisted's TCP transport buffers every write, waits for the socket to be
writable and sends on the reactor's next turn; this one never waits for
writability unless the kernel refused bytes: a large write is sent within
C{write}, small ones at the end of the reactor turn (all of the turn's
connections back to back), and only what the kernel refuses is kept (not
joined) until the socket is writable.  Reads are adaptive.  It is Twisted's
own L{twisted.internet.tcp.Server} with the write and read paths replaced,
so every other contract of Twisted's transport holds::

    from ratchet_tx.transport import serverFromString
    serverFromString(reactor, "tcp:8080").listen(Server(WebSocket(Chat())))

Every other endpoint type (C{ssl:}, C{unix:}, C{systemd:}, ...) goes to
Twisted's own L{twisted.internet.endpoints.serverFromString} unchanged.
"""

from ratchet_tx.transport.client import hostnameEndpoint
from ratchet_tx.transport.endpoint import TCPServerEndpoint, parseDescription, serverFromString
from ratchet_tx.transport.tcp import (
    WriteThroughClient,
    WriteThroughConnector,
    WriteThroughPort,
    WriteThroughServer,
)

__all__ = [
    "TCPServerEndpoint",
    "WriteThroughClient",
    "WriteThroughConnector",
    "WriteThroughPort",
    "WriteThroughServer",
    "hostnameEndpoint",
    "parseDescription",
    "serverFromString",
]
