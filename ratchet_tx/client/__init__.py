"""
Consuming sockets: the client side of ratchet_tx, for the same
L{ratchet_tx.IApplication} and commands as a server::

    from ratchet_tx.client import connect
    d = connect(reactor, "ws://127.0.0.1:8080/chat", Chat(), version="hixie-76")

L{connect} speaks every WebSocket version a server may (RFC 6455, HyBi-10,
HyBi-07, Hixie-76, Hixie-75), over C{ws://}, C{wss://} or plain TCP
(C{tcp://host:port}); L{ClientService} keeps an application connected,
reconnecting with backoff, as a Twisted service.
"""

from ratchet_tx.client.connect import DEFAULT_CLIENT_DEFLATE, clientSettings, connect
from ratchet_tx.client.connection import ClientConnection, ClientWebSocket
from ratchet_tx.client.service import DEFAULT_BACKOFF, ClientService
from ratchet_tx.redis.backoff import Backoff
from ratchet_tx.websocket.codecs.errors import (
    HandshakeFailed,
    HandshakeRefused,
    InvalidHandshakeResponse,
)

__all__ = [
    "DEFAULT_BACKOFF",
    "Backoff",
    "DEFAULT_CLIENT_DEFLATE",
    "ClientConnection",
    "ClientService",
    "ClientWebSocket",
    "HandshakeFailed",
    "HandshakeRefused",
    "InvalidHandshakeResponse",
    "clientSettings",
    "connect",
]
