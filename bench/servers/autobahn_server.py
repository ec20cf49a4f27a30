"""
Autobahn|Python on Twisted: echo, and text starting with "B" to every other
client (sent with prepareMessage/sendPreparedMessage, Autobahn's way to
broadcast: the frame is built once).

    python autobahn_server.py --port 9000 [--deflate]

AUTOBAHN_USE_NVX=0 in the environment turns off Autobahn's native (CFFI)
UTF-8 validator and XOR masker: the driver's "autobahn-pure" entry.

--deflate accepts a permessage-deflate offer (Autobahn accepts none by
default), without context takeover either way.  A prepared message is then
not sent as its prepared frame: sendPreparedMessage falls back to
sendMessage on a connection that compresses, so every receiver's copy is
compressed on its own (the same bytes each time, since no context is kept).
"""

import argparse
import sys

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket import USES_NVX
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from twisted.internet import reactor


class BenchProtocol(WebSocketServerProtocol):
    def onOpen(self):
        self.factory.clients.add(self)

    def onMessage(self, payload, isBinary):
        if not isBinary and payload[:1] == b"B":
            prepared = self.factory.prepareMessage(payload, isBinary)
            for client in self.factory.clients:
                if client is not self:
                    client.sendPreparedMessage(prepared)
        else:
            self.sendMessage(payload, isBinary)

    def onClose(self, wasClean, code, reason):
        self.factory.clients.discard(self)


def accept_deflate(offers):
    """The first permessage-deflate offer, without context takeover: the
    server never keeps it, and asks the client not to when it offered that."""
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(
                offer,
                request_no_context_takeover=offer.accept_no_context_takeover,
                no_context_takeover=True,
            )
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--deflate", action="store_true", help="accept permessage-deflate, no context takeover"
    )
    args = parser.parse_args()
    factory = WebSocketServerFactory(f"ws://{args.host}:{args.port}")
    factory.protocol = BenchProtocol
    factory.clients = set()
    # Defaults otherwise: no message size limit, UTF-8 validation on.
    factory.setProtocolOptions(maxMessagePayloadSize=0, maxFramePayloadSize=0)
    if args.deflate:
        factory.setProtocolOptions(perMessageCompressionAccept=accept_deflate)
    reactor.listenTCP(args.port, factory, interface=args.host)
    print(
        f"autobahn: reactor {type(reactor).__name__}, native accel (NVX) {USES_NVX}, "
        f"permessage-deflate {'accepted' if args.deflate else 'declined'}",
        flush=True,
    )
    reactor.run()


if __name__ == "__main__":
    sys.exit(main())
