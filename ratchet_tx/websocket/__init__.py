"""
The WebSocket protocol layer: every version that shipped in a browser, on one
port, for any L{ratchet_tx.IApplication}::

    Server(WebSocket(Chat()))
"""

from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.errors import HandshakeError, ProtocolError
from ratchet_tx.websocket.codecs.handshake import ALL_VERSIONS, WebSocketVersion
from ratchet_tx.websocket.connection import State, WebSocketConnection
from ratchet_tx.websocket.framing import BinaryNotSupported
from ratchet_tx.websocket.layer import WebSocket
from ratchet_tx.websocket.settings import Settings

__all__ = [
    "ALL_VERSIONS",
    "BinaryNotSupported",
    "CloseCode",
    "HandshakeError",
    "ProtocolError",
    "Settings",
    "State",
    "WebSocket",
    "WebSocketConnection",
    "WebSocketVersion",
]
