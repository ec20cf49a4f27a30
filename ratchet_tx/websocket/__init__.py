"""
The WebSocket protocol layer: every version that shipped in a browser, on one
port, for any L{ratchet_tx.IApplication}::

    Server(WebSocket(Chat()))

The names below are imported on first use, so that the pure codecs under
C{ratchet_tx.websocket.codecs} (close codes, frames, handshakes) can be
imported by any layer without loading the Twisted side of this package.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ratchet_tx.websocket.codecs.closecodes import CloseCode
    from ratchet_tx.websocket.codecs.errors import HandshakeError, ProtocolError
    from ratchet_tx.websocket.codecs.handshake import ALL_VERSIONS, WebSocketVersion
    from ratchet_tx.websocket.connection import WebSocketConnection
    from ratchet_tx.websocket.framing import BinaryNotSupported, Role
    from ratchet_tx.websocket.layer import WebSocket
    from ratchet_tx.websocket.protocol import InvalidState, State, WebSocketProtocol
    from ratchet_tx.websocket.settings import Settings

_WHERE = {
    "ALL_VERSIONS": "ratchet_tx.websocket.codecs.handshake",
    "BinaryNotSupported": "ratchet_tx.websocket.framing",
    "CloseCode": "ratchet_tx.websocket.codecs.closecodes",
    "HandshakeError": "ratchet_tx.websocket.codecs.errors",
    "InvalidState": "ratchet_tx.websocket.protocol",
    "ProtocolError": "ratchet_tx.websocket.codecs.errors",
    "Role": "ratchet_tx.websocket.framing",
    "Settings": "ratchet_tx.websocket.settings",
    "State": "ratchet_tx.websocket.protocol",
    "WebSocket": "ratchet_tx.websocket.layer",
    "WebSocketConnection": "ratchet_tx.websocket.connection",
    "WebSocketProtocol": "ratchet_tx.websocket.protocol",
    "WebSocketVersion": "ratchet_tx.websocket.codecs.handshake",
}

__all__ = [
    "ALL_VERSIONS",
    "BinaryNotSupported",
    "CloseCode",
    "HandshakeError",
    "InvalidState",
    "ProtocolError",
    "Role",
    "Settings",
    "State",
    "WebSocket",
    "WebSocketConnection",
    "WebSocketProtocol",
    "WebSocketVersion",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
