"""
The TCP transport the in-process servers of the tests listen with: ratchet_tx's
write-through transport (L{ratchet_tx.transport}) by default, Twisted's own
with C{RATCHET_TX_TEST_TRANSPORT=twisted} in the environment, so that the same
tests run on either:

    RATCHET_TX_TEST_TRANSPORT=twisted .venv/bin/pytest tests/integration

Servers that a test starts as subprocesses (the demo server) inherit the
choice through the environment.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import endpoints
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint

from ratchet_tx import transport

#: The environment variable that chooses the transport.
VARIABLE = "RATCHET_TX_TEST_TRANSPORT"
#: Its values: ratchet_tx's transport (the default), or Twisted's.
WRITE_THROUGH, TWISTED = "writethrough", "twisted"


def chosenTransport() -> str:
    """The transport the environment asks for."""
    choice = os.environ.get(VARIABLE, WRITE_THROUGH)
    if choice not in (WRITE_THROUGH, TWISTED):
        raise ValueError(f"{VARIABLE} must be {WRITE_THROUGH} or {TWISTED}, not {choice!r}")
    return choice


def serverFromString(reactor: Any, description: str) -> IStreamServerEndpoint:
    """The endpoint of C{description}, with the chosen transport for C{tcp:}."""
    if chosenTransport() == TWISTED:
        endpoint: IStreamServerEndpoint = endpoints.serverFromString(reactor, description)
        return endpoint
    return transport.serverFromString(reactor, description)


def listenTCP(reactor: Any, port: int, factory: Any, interface: str = "") -> IListeningPort:
    """C{reactor.listenTCP}, with the chosen transport."""
    if chosenTransport() == TWISTED:
        listening: IListeningPort = reactor.listenTCP(port, factory, interface=interface)
        return listening
    ports: list[IListeningPort] = []
    endpoint = transport.TCPServerEndpoint(reactor, port, interface=interface)
    endpoint.listen(factory).addCallback(ports.append)
    return ports[0]
