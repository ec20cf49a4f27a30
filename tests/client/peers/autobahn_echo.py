"""
An echo server on Autobahn|Python's Twisted WebSocket, in process, for the
client's interop tests: it echoes every message, C{frag:...} in 3-byte
fragments, and closes with the code of C{close:CODE}.
"""

from __future__ import annotations

from typing import Any

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from twisted.internet import reactor


class EchoProtocol(WebSocketServerProtocol):  # type: ignore[misc]
    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if not isBinary and payload.startswith(b"close:"):
            self.sendClose(int(payload[6:]), "asked")
        elif not isBinary and payload.startswith(b"frag:"):
            self.sendMessage(payload, isBinary, fragmentSize=3)
        else:
            self.sendMessage(payload, isBinary)


def _accept(offers: list[Any]) -> Any:
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


def listen(deflate: bool) -> Any:
    """Listen on a free loopback port; the listening port."""
    factory = WebSocketServerFactory()
    factory.protocol = EchoProtocol
    factory.setProtocolOptions(maxMessagePayloadSize=0, maxFramePayloadSize=0)
    if deflate:
        factory.setProtocolOptions(perMessageCompressionAccept=_accept)
    return reactor.listenTCP(0, factory, interface="127.0.0.1")
