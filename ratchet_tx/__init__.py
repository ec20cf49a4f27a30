"""
ratchet_tx: socket applications for Twisted, built like Lego.

Write an L{IApplication} (four callbacks returning commands), then serve it:
C{Server(WebSocket(app))} to WebSocket clients of every version, or
C{Server(app)} over plain TCP.
"""

from ratchet_tx.commands import (
    NULL,
    Broadcast,
    Call,
    CloseConnection,
    Composite,
    Null,
    SendMessage,
)
from ratchet_tx.connection import ConnectionDecorator, TransportConnection
from ratchet_tx.hub.commands import Publish, Subscribe, Unsubscribe
from ratchet_tx.interfaces import IApplication, ICommand, IConnection
from ratchet_tx.server import Server

__version__ = "0.1.0"

__all__ = [
    "NULL",
    "Broadcast",
    "Call",
    "CloseConnection",
    "Composite",
    "ConnectionDecorator",
    "IApplication",
    "ICommand",
    "IConnection",
    "Null",
    "Publish",
    "SendMessage",
    "Server",
    "Subscribe",
    "TransportConnection",
    "Unsubscribe",
    "__version__",
]
