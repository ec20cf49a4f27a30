"""
Raw Twisted TCP, no framing: the ceiling of the stack the Twisted servers
stand on.  Bytes go back to their sender, except from a connection whose
data began with "B": its bytes go to every other client.

    python raw_twisted.py --port 9000
    python raw_twisted.py --port 9000 --write-through   # on ratchet_tx.transport
"""

import argparse

from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol


class Raw(Protocol):
    broadcaster = False

    def connectionMade(self):
        self.transport.setTcpNoDelay(True)
        self.factory.clients.add(self)

    def dataReceived(self, data):
        if not self.broadcaster and data[:1] == b"B":
            self.broadcaster = True
        if self.broadcaster:
            for client in self.factory.clients:
                if client is not self:
                    client.transport.write(data)
        else:
            self.transport.write(data)

    def connectionLost(self, reason):
        self.factory.clients.discard(self)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--write-through",
        action="store_true",
        help="listen on ratchet_tx's write-through TCP transport (ratchet_tx on PYTHONPATH)",
    )
    args = parser.parse_args()
    factory = Factory.forProtocol(Raw)
    factory.clients = set()
    if args.write_through:
        from ratchet_tx.transport import TCPServerEndpoint

        TCPServerEndpoint(reactor, args.port, interface=args.host).listen(factory)
    else:
        reactor.listenTCP(args.port, factory, interface=args.host)
    kind = "write-through" if args.write_through else "Twisted's"
    print(f"raw twisted: reactor {type(reactor).__name__}, {kind} transport", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
