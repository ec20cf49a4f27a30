"""
One real loopback socket: the C{websockets} client sends the session
cookie Flask set at login, and the application, behind
C{SessionProvider(..., required=True)}, greets the user by the name in it;
without the cookie the handshake is refused with 401.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from zope.interface import implementer

from ratchet_tx.commands import SendMessage
from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.session import FlaskCookieStore, SessionProvider
from ratchet_tx.websocket import WebSocket
from tests.session.frameworks import SECRET, flaskCookie

#: A bound on every wait of these tests (the machine is shared).
TIMEOUT = 10.0


@implementer(IApplication)
class Greeter:
    """Greets the session's user on open; echoes with the name after."""

    def onOpen(self, conn: Any) -> Any:
        return SendMessage(conn, f"hello {conn.session['name']}")

    def onMessage(self, conn: Any, message: Any) -> Any:
        return SendMessage(conn, f"{conn.session['name']}: {message}")

    def onClose(self, conn: Any) -> None:
        pass

    def onError(self, conn: Any, failure: Any) -> None:
        pass


class RealSocketTests(TestCase):
    timeout = 30

    def setUp(self) -> Deferred:
        app = SessionProvider(Greeter(), FlaskCookieStore(SECRET), required=True)
        listening = serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
            Server(WebSocket(app))
        )

        def listened(port: Any) -> None:
            self.port = port.getHost().port
            self.addCleanup(port.stopListening)

        return listening.addCallback(listened)

    def talk(self, headers: dict[str, str]) -> list[str]:
        """In a thread: connect, read the greeting, send one message."""
        url = f"ws://127.0.0.1:{self.port}/chat"
        with connect(url, additional_headers=headers, open_timeout=TIMEOUT) as ws:
            greeting = ws.recv(timeout=TIMEOUT)
            ws.send("hi")
            return [str(greeting), str(ws.recv(timeout=TIMEOUT))]

    def test_theFlaskSessionNamesTheUser(self) -> Deferred:
        cookie = flaskCookie({"name": "Ada"})
        d = deferToThread(self.talk, {"Cookie": f"theme=dark; session={cookie}"})
        return d.addCallback(self.assertEqual, ["hello Ada", "Ada: hi"])

    def test_noCookieIs401(self) -> Deferred:
        d = deferToThread(self.talk, {})

        def refused(failure: Any) -> None:
            failure.trap(InvalidStatus)
            self.assertEqual(failure.value.response.status_code, 401)

        return d.addCallbacks(lambda result: self.fail(f"accepted: {result}"), refused)
