"""
One real loopback socket: the C{websockets} client sends the session
cookie Flask set at login, and the application, behind
C{SessionProvider(..., required=True)}, greets the user by the name in it;
without the cookie the handshake is refused with 401.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from ratchet_tx.session import FlaskCookieStore, SessionProvider
from tests.session.frameworks import SECRET, flaskCookie
from tests.session.helpers import Greeter, listenWebSocket

#: A bound on every wait of these tests (the machine is shared).
TIMEOUT = 10.0


class RealSocketTests(TestCase):
    timeout = 30

    def setUp(self) -> Deferred:
        app = SessionProvider(Greeter(), FlaskCookieStore(SECRET), required=True)

        def listened(port: int) -> None:
            self.port = port

        return listenWebSocket(self, app).addCallback(listened)

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
