"""
Helpers of the hub tests: a WebSocket client over an in-memory transport,
an application that uses the hub's commands, and a hub installed for one
test.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qs

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from ratchet_tx.commands import CloseConnection, SendMessage
from ratchet_tx.hub import HistoryLost, IHub, Publish, Subscribe, useHub
from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.server import Server
from ratchet_tx.websocket import WebSocket
from ratchet_tx.websocket.codecs import hybi
from tests.support.apps import connectTo

LIMIT = 2**20

HIXIE_KEY1 = "18x 6]8vM;54 *(5:  {   U1]8  z [  8"
HIXIE_KEY2 = "1_ tx7X d  <  nw  334J702) 7]o}` 0"
HIXIE_KEY3 = b"Tm[K T2u"


def installHub(testCase: SynchronousTestCase, hub: IHub) -> IHub:
    """Make C{hub} the process's hub for the rest of C{testCase}."""
    previous = useHub(hub)
    testCase.addCleanup(useHub, previous)
    return hub


@implementer(IApplication)
class RoomApp:
    """
    Every client joins C{channel} (resuming from the C{since} of its query
    string, C{?since=...}); what it sends is published to everyone else;
    C{HistoryLost} is answered with a C{"lost"} text.

    @ivar errors: the failures C{onError} was given.
    """

    def __init__(self, channel: str = "room", hub: IHub | None = None, render: Any = None):
        self.channel = channel
        self.hub = hub
        self.render = render
        self.errors: list[Any] = []

    def onOpen(self, conn: IConnection) -> Subscribe:
        since = parse_qs(getattr(conn, "query", "")).get("since", [None])[0]
        return Subscribe(
            conn, self.channel, since, info={"id": conn.id}, render=self.render, hub=self.hub
        )

    def onMessage(self, conn: IConnection, message: str | bytes) -> Publish:
        return Publish(self.channel, message, exclude=conn, hub=self.hub)

    def onClose(self, conn: IConnection) -> None:
        return None

    def onError(self, conn: IConnection, failure: Any) -> Any:
        self.errors.append(failure)
        if failure.check(HistoryLost):
            return SendMessage(conn, "lost")
        return CloseConnection(conn)


def webSocketServer(app: IApplication) -> Server:
    return Server(WebSocket(app, clock=Clock()))


class MemoryClient:
    """A WebSocket client (RFC 6455 or Hixie-76) of an in-memory connection."""

    def __init__(self, server: Server, hixie: bool = False, path: str = "/ws") -> None:
        self.hixie = hixie
        self.proto, self.transport = connectTo(server, StringTransportWithDisconnection())
        self._read = 0
        self._decoder = hybi.FrameDecoder(maxMessageSize=LIMIT, expectMasked=False)
        if hixie:
            head = (
                f"GET {path} HTTP/1.1\r\nHost: example.com\r\nUpgrade: WebSocket\r\n"
                "Connection: Upgrade\r\nOrigin: http://example.com\r\n"
                f"Sec-WebSocket-Key1: {HIXIE_KEY1}\r\nSec-WebSocket-Key2: {HIXIE_KEY2}\r\n\r\n"
            )
            self.proto.dataReceived(head.encode("latin-1") + HIXIE_KEY3)
            self._pending = self._output().partition(b"\r\n\r\n")[2][16:]
        else:
            head = (
                f"GET {path} HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            )
            self.proto.dataReceived(head.encode("latin-1"))
            response, _, self._pending = self._output().partition(b"\r\n\r\n")
            if not response.startswith(b"HTTP/1.1 101 "):
                raise AssertionError(f"handshake failed: {response!r}")

    @property
    def conn(self) -> IConnection:
        return self.proto.connection.view

    def _output(self) -> bytes:
        value = self.transport.value()
        data, self._read = value[self._read :], len(value)
        return data

    def send(self, text: str) -> None:
        if self.hixie:
            self.proto.dataReceived(b"\x00" + text.encode("utf-8") + b"\xff")
        else:
            self.proto.dataReceived(
                hybi.encodeFrame(hybi.Opcode.TEXT, text.encode("utf-8"), mask=os.urandom(4))
            )

    def received(self) -> list[Any]:
        """The messages received since the last call."""
        data, self._pending = self._pending + self._output(), b""
        if self.hixie:
            return [part[1:].decode("utf-8") for part in data.split(b"\xff") if part]
        return list(self._decoder.feed(data))

    def close(self) -> None:
        self.transport.loseConnection()


def jsonOf(messages: list[Any]) -> list[Any]:
    return [json.loads(m) for m in messages]


def sleep(seconds: float) -> Deferred[None]:
    """A Deferred that fires after C{seconds} of the real reactor."""
    return deferLater(reactor, seconds, lambda: None)


@inlineCallbacks
def waitFor(condition: Any, timeout: float, interval: float = 0.01) -> Any:
    """Poll C{condition()} until it is true, at most C{timeout} seconds."""
    deadline = reactor.seconds() + timeout
    while not condition():
        if reactor.seconds() > deadline:
            raise AssertionError(f"not true within {timeout}s: {condition}")
        yield sleep(interval)
