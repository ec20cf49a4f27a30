"""
Raw Twisted TCP, no framing: the ceiling of the stack the Twisted servers
stand on.  Bytes go back to their sender, except from a connection whose
data began with "B": its bytes go to every other client.

    python raw_twisted.py --port 9000
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
    args = parser.parse_args()
    factory = Factory.forProtocol(Raw)
    factory.clients = set()
    reactor.listenTCP(args.port, factory, interface=args.host)
    print(f"raw twisted: reactor {type(reactor).__name__}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
