"""
L{SessionProvider} through the real WebSocket layer
(C{Server(WebSocket(SessionProvider(app, store)))} over in-memory
transports, L{tests.websocket.helpers.Harness}) with a fake clock: the
session on every callback, refusals, the lookup timeout, bad cookies, the
store down, C{reload()}, and what the layer remembers.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from ratchet_tx.commands import Broadcast, SendMessage
from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.server import Server
from ratchet_tx.session import (
    DEFAULT_LOOKUP_TIMEOUT,
    DjangoSignedCookieStore,
    FlaskCookieStore,
    ISessionStore,
    Session,
    SessionConnection,
    SessionProvider,
    SessionUnavailable,
    StarletteCookieStore,
)
from ratchet_tx.session.errors import InvalidSession
from ratchet_tx.websocket import HandshakeError, WebSocketVersion
from tests.session.frameworks import SECRET, djangoSession, flaskCookie, starletteCookie
from tests.session.helpers import nowClock
from tests.support.apps import LogCapture, RecordingApplication, connectTo
from tests.websocket.helpers import (
    SAMPLE_KEY3 as HIXIE_KEY3,
)
from tests.websocket.helpers import (
    Harness,
    hixie76Request,
    hybiRequest,
    logMessages,
    textFrame,
)

DATA = {"_auth_user_id": "42", "name": "Ada"}


@implementer(ISessionStore)
class MemoryStore:
    """
    Sessions by cookie value, in memory; or, with C{hold=True}, every
    lookup waits in C{pending} for the test to answer it.
    """

    cookieName = "sid"

    def __init__(self, sessions: dict[str, Any] | None = None, hold: bool = False) -> None:
        self.sessions = dict(sessions or {})
        self.hold = hold
        self.pending: list[Deferred[Any]] = []
        self.cancelled = 0
        self.failWith: BaseException | None = None

    def load(self, cookieValue: str) -> Deferred[Any]:
        if self.failWith is not None:
            return fail(self.failWith)
        if self.hold:
            d: Deferred[Any] = Deferred(lambda _: self._cancelled())
            self.pending.append(d)
            return d
        return succeed(self.sessions.get(cookieValue))

    def _cancelled(self) -> None:
        self.cancelled += 1


def withCookie(value: str, name: str = "sid", **kwargs: Any) -> bytes:
    return hybiRequest(extra=[f"Cookie: theme=dark; {name}={value}"], **kwargs)


class Setup(SynchronousTestCase):
    def setUp(self) -> None:
        self.log = LogCapture(self)
        self.clock = Clock()
        self.app = RecordingApplication(
            onMessage=lambda conn, msg: SendMessage(conn, f"{conn.session.get('name')}: {msg}")
        )
        self.store = MemoryStore({"good": DATA})

    def harness(self, **options: Any) -> Harness:
        options.setdefault("clock", self.clock)
        self.provider = SessionProvider(self.app, self.store, **options)
        return Harness(self.provider, clock=self.clock)

    def sessionOf(self, index: int = 0) -> Session:
        return self.app.events[index][1].session

    def lines(self) -> list[str]:
        return logMessages(self.log)


class InterfaceTests(Setup):
    def test_provides(self) -> None:
        verifyObject(IApplication, SessionProvider(self.app, self.store))
        harness = self.harness()
        harness.open(withCookie("good"))
        [(name, conn)] = self.app.events
        self.assertIsInstance(conn, SessionConnection)
        verifyObject(IConnection, conn)

    def test_refusesWhatIsNotAnApplicationOrAStore(self) -> None:
        self.assertRaises(TypeError, SessionProvider, object(), self.store)
        self.assertRaises(TypeError, SessionProvider, self.app, object())
        self.assertRaises(ValueError, SessionProvider, self.app, self.store, lookupTimeout=0)

    def test_defaultTimeoutIsBelowTheHandshakeTimeout(self) -> None:
        from ratchet_tx.websocket import Settings

        self.assertLess(DEFAULT_LOOKUP_TIMEOUT, Settings().handshakeTimeout)


class SessionOnEveryCallbackTests(Setup):
    def test_oneViewEverywhere(self) -> None:
        harness = self.harness()
        peer = harness.open(withCookie("good", path="/chat/1?x=y"))
        peer.sendText("hi")
        self.assertEqual(peer.frames(), ["Ada: hi"])
        peer.sendClose()
        opened, messaged, closed = (event[1] for event in self.app.events)
        self.assertIs(opened, messaged)
        self.assertIs(opened, closed)
        self.assertEqual(dict(opened.session), DATA)
        # The WebSocket connection's attributes read through.
        self.assertEqual(opened.path, "/chat/1")
        self.assertEqual(opened.query, "x=y")
        self.assertEqual(opened.cookies["theme"], "dark")
        self.assertIs(opened.version, WebSocketVersion.RFC6455)
        self.assertEqual(opened.closeCode, 1000)
        self.assertEqual(self.provider._views, {})

    def test_readOnly(self) -> None:
        self.harness().open(withCookie("good"))
        session = self.sessionOf()
        self.assertEqual(session["name"], "Ada")
        self.assertEqual(len(session), 2)
        self.assertIn("name", session)
        with self.assertRaises(TypeError):
            session["name"] = "Eve"  # type: ignore[index]
        self.assertFalse(hasattr(session, "update"))
        self.assertIn("Ada", repr(session))

    def test_innerOnHandshakeSeesTheSession(self) -> None:
        seen: list[Any] = []

        def onHandshake(conn: Any) -> None:
            seen.append((conn, dict(conn.session)))
            conn.subprotocol = "chat.v2"

        self.app.onHandshake = onHandshake  # type: ignore[attr-defined]
        peer = self.harness().open(withCookie("good", subprotocols=["chat.v1", "chat.v2"]))
        [(conn, session)] = seen
        self.assertEqual(session, DATA)
        self.assertIs(conn, self.app.events[0][1])
        self.assertEqual(conn.subprotocol, "chat.v2")
        self.assertEqual(peer.conn.subprotocol, "chat.v2")

    def test_innerOnHandshakeRefuses(self) -> None:
        def onHandshake(conn: Any) -> None:
            if conn.session.get("name") != "Grace":
                raise HandshakeError(403, "Grace only")

        self.app.onHandshake = onHandshake  # type: ignore[attr-defined]
        harness = self.harness()
        response = harness.connect().handshake(withCookie("good"))
        self.assertEqual(response.status, 403)
        self.assertEqual(self.app.events, [])
        self.assertEqual(self.provider._views, {})

    def test_innerOnHandshakeDeferredAndCoroutine(self) -> None:
        gate: Deferred[None] = Deferred()

        async def onHandshake(conn: Any) -> None:
            await gate

        self.app.onHandshake = onHandshake  # type: ignore[attr-defined]
        peer = self.harness().connect()
        peer.receive(withCookie("good") + textFrame("early"))
        self.assertEqual(peer.output(), b"")
        gate.callback(None)
        self.assertEqual(peer.response().status, 101)
        self.assertEqual(self.app.callbacks(), ["onOpen", "onMessage"])
        self.assertEqual(self.sessionOf(1)["name"], "Ada")

    def test_subprotocolsOfTheApplication(self) -> None:
        self.app.subprotocols = ["chat"]  # type: ignore[attr-defined]
        peer = self.harness().open(withCookie("good", subprotocols=["other", "chat"]))
        self.assertEqual(peer.conn.subprotocol, "chat")

    def test_errorsGoToTheApplicationWithTheView(self) -> None:
        self.app.answers["onMessage"] = lambda conn, msg: 1 / 0
        peer = self.harness().open(withCookie("good"))
        peer.sendText("boom")
        [failure] = self.app.failures()
        self.assertIs(self.app.events[-1][1], self.app.events[0][1])
        self.assertTrue(failure.check(ZeroDivisionError))
        self.flushLoggedErrors(ZeroDivisionError)

    def test_broadcastToViews(self) -> None:
        clients: list[Any] = []
        self.app.answers["onOpen"] = clients.append
        self.app.answers["onMessage"] = lambda conn, msg: Broadcast(clients, msg)
        harness = self.harness()
        peers = [harness.open(withCookie("good")) for _ in range(3)]
        peers[0].sendText("to all")
        for peer in peers:
            self.assertEqual(peer.frames(), ["to all"])

    def test_hixie76(self) -> None:
        peer = self.harness().connect()
        peer.receive(hixie76Request(extra=["Cookie: sid=good"]) + HIXIE_KEY3)
        self.assertEqual(peer.response().status, 101)
        self.assertEqual(self.sessionOf()["name"], "Ada")

    def test_cookieName(self) -> None:
        self.harness(cookieName="PHPSESSID").open(withCookie("good", name="PHPSESSID"))
        self.assertEqual(dict(self.sessionOf()), DATA)


class NoValidSessionTests(Setup):
    def test_noCookieIsAnEmptySessionQuietly(self) -> None:
        self.harness().open()
        self.assertEqual(dict(self.sessionOf()), {})
        self.assertEqual(self.lines(), [])

    def test_unknownSessionIsEmptyWithOneLogLine(self) -> None:
        self.harness().open(withCookie("stale"))
        self.assertEqual(dict(self.sessionOf()), {})
        [line] = self.lines()
        self.assertIn("No valid session", line)
        self.assertIn("no such session", line)

    def test_invalidSessionIsEmptyWithOneLogLine(self) -> None:
        self.store.failWith = InvalidSession("the signature does not match")
        self.harness().open(withCookie("tampered"))
        self.assertEqual(dict(self.sessionOf()), {})
        [line] = self.lines()
        self.assertIn("the signature does not match", line)

    def test_requiredRefusesWith401AndOneLogLine(self) -> None:
        harness = self.harness(required=True)
        for request in [hybiRequest(), withCookie("stale")]:
            response = harness.connect().handshake(request)
            self.assertEqual(response.status, 401)
        self.store.failWith = InvalidSession("expired")
        response = harness.connect().handshake(withCookie("old"))
        self.assertEqual(response.status, 401)
        self.assertIn(b"expired", response.body)
        lines = self.lines()
        self.assertEqual(len(lines), 3, lines)
        self.assertTrue(all("401" in line for line in lines))
        self.assertEqual(self.app.events, [])
        self.assertEqual(self.provider._views, {})

    def test_anEmptySessionIdentifiesNoOne(self) -> None:
        """What PHP writes back for a cookie that outlived its logout."""
        self.store.sessions["loggedout"] = {}
        response = self.harness(required=True).connect().handshake(withCookie("loggedout"))
        self.assertEqual(response.status, 401)
        self.assertIn(b"an empty session", response.body)
        self.assertEqual(self.app.events, [])

    def test_requiredAcceptsAValidSession(self) -> None:
        self.harness(required=True).open(withCookie("good"))
        self.assertEqual(dict(self.sessionOf()), DATA)

    def test_aStoreGivingNoMappingIsNoSession(self) -> None:
        self.store.sessions["odd"] = ["not", "a", "mapping"]
        self.harness().open(withCookie("odd"))
        self.assertEqual(dict(self.sessionOf()), {})
        [line] = self.lines()
        self.assertIn("no mapping", line)

    def test_realDjangoCookies(self) -> None:
        self.store = DjangoSignedCookieStore(SECRET, clock=nowClock())
        harness = self.harness(required=True)
        cookie = djangoSession("signed_cookies", DATA)
        harness.open(withCookie(cookie, name="sessionid"))
        self.assertEqual(dict(self.sessionOf()), DATA)
        tampered = cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB")
        response = harness.connect().handshake(withCookie(tampered, name="sessionid"))
        self.assertEqual(response.status, 401)
        self.assertEqual(len(self.lines()), 1)


class RealCookiesThroughTheLayerTests(Setup):
    """The frameworks' cookies, as a browser sends them, through the layer."""

    def test_flaskAndStarlette(self) -> None:
        for store, cookie in [
            (FlaskCookieStore(SECRET, clock=nowClock()), flaskCookie(DATA)),
            (StarletteCookieStore(SECRET, clock=nowClock()), starletteCookie(DATA)),
        ]:
            self.app.events.clear()
            self.store = store
            self.harness(required=True).open(withCookie(cookie, name="session"))
            self.assertEqual(dict(self.sessionOf()), DATA)
        self.assertEqual(self.lines(), [])


class StoreDownTests(Setup):
    def test_unavailableIsAnEmptySession(self) -> None:
        self.store.failWith = ConnectionRefusedError("redis is down")
        self.harness().open(withCookie("good"))
        self.assertEqual(dict(self.sessionOf()), {})
        [line] = self.lines()
        self.assertIn("unavailable", line)
        self.assertIn("redis is down", line)

    def test_requiredIs503(self) -> None:
        self.store.failWith = SessionUnavailable("down")
        response = self.harness(required=True).connect().handshake(withCookie("good"))
        self.assertEqual(response.status, 503)
        self.assertEqual(response.header("Retry-After"), "5")
        self.assertNotIn(b"down", response.body)
        self.assertEqual(self.app.events, [])

    def test_aStoreRaisingIsUnavailable(self) -> None:
        def explode(cookie: str) -> Deferred[Any]:
            raise RuntimeError("bug in the store")

        self.store.load = explode  # type: ignore[method-assign]
        self.harness().open(withCookie("good"))
        self.assertEqual(dict(self.sessionOf()), {})
        self.assertIn("bug in the store", self.lines()[0])


class TimeoutTests(Setup):
    def setUp(self) -> None:
        super().setUp()
        self.store.hold = True

    def test_slowStoreTimesOut(self) -> None:
        peer = self.harness(lookupTimeout=2.0).connect()
        peer.receive(withCookie("good") + textFrame("sent while waiting"))
        self.clock.advance(1.9)
        self.assertEqual(peer.output(), b"")
        self.clock.advance(0.1)
        self.assertEqual(peer.response().status, 101)
        self.assertEqual(self.store.cancelled, 1)
        self.assertEqual(dict(self.sessionOf()), {})
        self.assertEqual(self.app.callbacks(), ["onOpen", "onMessage"])
        [line] = self.lines()
        self.assertIn("no answer within 2.0 s", line)

    def test_requiredTimesOutWith503(self) -> None:
        peer = self.harness(required=True).connect()
        peer.receive(withCookie("good"))
        self.clock.advance(DEFAULT_LOOKUP_TIMEOUT)
        self.assertEqual(peer.response().status, 503)

    def test_answerInTime(self) -> None:
        peer = self.harness().connect()
        peer.receive(withCookie("good"))
        self.clock.advance(DEFAULT_LOOKUP_TIMEOUT - 0.5)
        self.store.pending[0].callback({"name": "Slow"})
        self.assertEqual(peer.response().status, 101)
        self.assertEqual(dict(self.sessionOf()), {"name": "Slow"})
        self.clock.advance(10)
        self.assertEqual(self.store.cancelled, 0)

    def test_slowStoreDelaysOnlyItsOwnHandshakes(self) -> None:
        harness = self.harness()
        waiting = harness.connect()
        waiting.receive(withCookie("good"))
        self.store.hold = False
        other = harness.open(withCookie("good"))
        other.sendText("meanwhile")
        self.assertEqual(other.frames(), ["Ada: meanwhile"])
        self.assertEqual(waiting.output(), b"")

    def test_clientGoneDuringTheLookup(self) -> None:
        onHandshake: list[Any] = []
        self.app.onHandshake = onHandshake.append  # type: ignore[attr-defined]
        peer = self.harness().connect()
        peer.receive(withCookie("good"))
        peer.transport.loseConnection()
        self.store.pending[0].callback(DATA)
        self.assertEqual(onHandshake, [])
        self.assertEqual(self.app.events, [])
        self.assertEqual(self.provider._views, {})

    def test_lookupLongerThanTheHandshakeTimeout(self) -> None:
        peer = self.harness(lookupTimeout=30.0).connect()
        peer.receive(withCookie("good"))
        self.clock.advance(10)  # the WebSocket layer's handshake timeout
        self.assertTrue(peer.aborted)
        self.clock.advance(20)
        self.assertEqual(self.app.events, [])
        self.assertEqual(self.provider._views, {})


class ReloadTests(Setup):
    def open(self) -> Session:
        self.harness().open(withCookie("good"))
        return self.sessionOf()

    def reload(self, session: Session) -> Any:
        results: list[Any] = []
        session.reload().addBoth(results.append)
        [result] = results
        return result

    def test_reloadSeesChanges(self) -> None:
        session = self.open()
        self.store.sessions["good"] = {"name": "Ada", "room": "42"}
        self.assertIs(self.reload(session), session)
        self.assertEqual(dict(session), {"name": "Ada", "room": "42"})

    def test_loggedOutElsewhere(self) -> None:
        session = self.open()
        del self.store.sessions["good"]
        self.assertIs(self.reload(session), session)
        self.assertEqual(dict(session), {})
        [line] = self.lines()
        self.assertIn("no longer valid", line)

    def test_storeDownKeepsTheSession(self) -> None:
        session = self.open()
        self.store.failWith = ConnectionRefusedError("down")
        self.reload(session).trap(SessionUnavailable)
        self.assertEqual(dict(session), DATA)

    def test_reloadTimesOut(self) -> None:
        session = self.open()
        self.store.hold = True
        results: list[Any] = []
        session.reload().addBoth(results.append)
        self.clock.advance(DEFAULT_LOOKUP_TIMEOUT)
        [failure] = results
        failure.trap(SessionUnavailable)

    def test_withoutACookie(self) -> None:
        self.harness().open()
        session = self.sessionOf()
        self.assertIs(self.reload(session), session)
        self.assertEqual(dict(session), {})


class MemoryTests(Setup):
    def test_forgottenOnClose(self) -> None:
        harness = self.harness()
        peers = [harness.open(withCookie("good")) for _ in range(5)]
        self.assertEqual(len(self.provider._views), 5)
        for peer in peers:
            peer.transport.loseConnection()
        self.assertEqual(self.provider._views, {})

    def test_refusedAfterThisLayerAreSwept(self) -> None:
        def onHandshake(conn: Any) -> None:
            conn.subprotocol = "never-offered"  # the WebSocket layer answers 500

        self.app.onHandshake = onHandshake  # type: ignore[attr-defined]
        harness = self.harness()
        for _ in range(500):
            self.assertEqual(harness.connect().handshake(withCookie("good")).status, 500)
        self.assertLessEqual(len(self.provider._views), 128)
        self.flushLoggedErrors(ValueError)


class WithoutAWebSocketLayerTests(Setup):
    def test_rawTCPHasAnEmptySession(self) -> None:
        self.app.answers["onMessage"] = lambda conn, msg: SendMessage(
            conn, msg + repr(dict(conn.session)).encode()
        )
        provider = SessionProvider(self.app, self.store)
        proto, transport = connectTo(Server(provider))
        [(name, conn)] = self.app.events
        self.assertEqual(dict(conn.session), {})
        proto.dataReceived(b"raw")
        self.assertEqual(transport.value(), b"raw{}")
        transport.loseConnection()
        self.assertEqual(self.app.callbacks(), ["onOpen", "onMessage", "onClose"])

    def test_rawTCPRequiredIsClosed(self) -> None:
        provider = SessionProvider(self.app, self.store, required=True)
        proto, transport = connectTo(Server(provider))
        self.assertEqual(self.app.events, [])
        self.assertFalse(transport.connected)
        self.assertEqual(provider._views, {})
