"""
The built-in demo: L{DemoChat}, its JSON protocol and input checks, clients
of different WebSocket versions in one room, and the site L{demoResource}
builds (the page at C{/}, the WebSocket at C{/ws}).

The page itself, in a real browser, is tested in L{tests.browser}.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import getChildForRequest
from twisted.web.server import NOT_DONE_YET, Site
from twisted.web.test.requesthelper import DummyRequest
from zope.interface.verify import verifyObject

from ratchet_tx.commands import Broadcast, CloseConnection, SendMessage
from ratchet_tx.demo import STATIC, DemoChat, demoResource
from ratchet_tx.demo.app import MAX_NAME_LENGTH, MAX_TEXT_LENGTH
from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.web import StaticFiles, WebSocketResource
from ratchet_tx.websocket import Settings, WebSocket, WebSocketVersion
from ratchet_tx.websocket.codecs import hybi
from tests.support.apps import FakeConnection, connectTo

#: The message limit given to decoders where the test needs no other.
LIMIT = 16 * 2**20

#: The fixed clock of these tests, and the "at" it gives chat messages.
NOW = 1_700_000_000.25
NOW_MS = 1_700_000_000_250


def demoConnection(version: WebSocketVersion = WebSocketVersion.RFC6455) -> FakeConnection:
    """A fake connection that says which WebSocket version its client speaks."""
    conn = FakeConnection()
    conn.version = version  # type: ignore[attr-defined]
    return conn


class Room:
    """
    A L{DemoChat} driven directly: callbacks are called, the commands they
    return carried out, and what each fake connection got is read as JSON.
    """

    def __init__(self) -> None:
        self.chat = DemoChat(now=lambda: NOW)
        self.read: dict[int, int] = {}

    def run(self, command: Any) -> Any:
        if command is not None:
            command.execute()
        return command

    def join(self, version: WebSocketVersion = WebSocketVersion.RFC6455) -> FakeConnection:
        conn = demoConnection(version)
        self.run(self.chat.onOpen(conn))
        return conn

    def leave(self, conn: FakeConnection) -> None:
        conn.closed = True
        self.run(self.chat.onClose(conn))

    def say(self, conn: FakeConnection, message: str | bytes | dict[str, Any]) -> Any:
        if isinstance(message, dict):
            message = json.dumps(message)
        return self.run(self.chat.onMessage(conn, message))

    def received(self, conn: FakeConnection) -> list[dict[str, Any]]:
        """What C{conn} was sent since the last call, decoded."""
        start = self.read.get(conn.id, 0)
        self.read[conn.id] = len(conn.sent)
        messages = conn.sent[start:]
        for message in messages:
            if not isinstance(message, str):
                raise AssertionError(f"the demo sent {message!r}, not text")
        return [json.loads(message) for message in messages]


def rosterOf(message: dict[str, Any]) -> list[tuple[int, str, str]]:
    if message["type"] != "roster":
        raise AssertionError(f"not a roster: {message!r}")
    return [(c["id"], c["name"], c["version"]) for c in message["clients"]]


class DemoChatTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.room = Room()

    def test_interface(self) -> None:
        self.assertTrue(verifyObject(IApplication, DemoChat()))

    def test_welcome(self) -> None:
        """
        A new client is welcomed with its id, default name and version, then
        gets the roster.
        """
        conn = self.room.join(WebSocketVersion.HYBI_10)
        welcome, roster = self.room.received(conn)
        self.assertEqual(
            welcome,
            {
                "type": "welcome",
                "you": {"id": conn.id, "name": f"guest-{conn.id}", "version": "hybi-10"},
            },
        )
        self.assertEqual(rosterOf(roster), [(conn.id, f"guest-{conn.id}", "hybi-10")])

    def test_rosterOnJoin(self) -> None:
        """Everyone gets the new roster, in the order clients joined."""
        first = self.room.join()
        second = self.room.join(WebSocketVersion.HIXIE_76)
        expected = [
            (first.id, f"guest-{first.id}", "rfc6455"),
            (second.id, f"guest-{second.id}", "hixie-76"),
        ]
        [_, _, roster] = self.room.received(first)
        self.assertEqual(rosterOf(roster), expected)
        [welcome, roster] = self.room.received(second)
        self.assertEqual(welcome["type"], "welcome")
        self.assertEqual(rosterOf(roster), expected)

    def test_rosterOnLeave(self) -> None:
        """The clients who stay get the roster without the one who left."""
        first, second, third = self.room.join(), self.room.join(), self.room.join()
        for conn in (first, second, third):
            self.room.received(conn)
        self.room.leave(second)
        for conn in (first, third):
            [roster] = self.room.received(conn)
            self.assertEqual([c[0] for c in rosterOf(roster)], [first.id, third.id])
        self.assertEqual(self.room.received(second), [])
        self.assertEqual(list(self.room.chat.clients), [first.id, third.id])

    def test_leaveUnknown(self) -> None:
        """A connection that never opened leaves without a roster."""
        self.assertIsNone(self.room.chat.onClose(demoConnection()))

    def test_rosterOnRename(self) -> None:
        """A new name (trimmed) goes to everyone in a roster."""
        first, second = self.room.join(), self.room.join()
        self.room.received(first)
        self.room.received(second)
        self.room.say(second, {"type": "rename", "name": "  Ada Lovelace "})
        for conn in (first, second):
            [roster] = self.room.received(conn)
            self.assertEqual(
                rosterOf(roster),
                [
                    (first.id, f"guest-{first.id}", "rfc6455"),
                    (second.id, "Ada Lovelace", "rfc6455"),
                ],
            )
        self.assertEqual(second.state.name, "Ada Lovelace")

    def test_renameLongestName(self) -> None:
        conn = self.room.join()
        self.room.received(conn)
        name = "n" * MAX_NAME_LENGTH
        self.room.say(conn, {"type": "rename", "name": name})
        [roster] = self.room.received(conn)
        self.assertEqual(rosterOf(roster)[0][1], name)

    def test_chatBroadcast(self) -> None:
        """
        A chat message goes to everyone, the sender too, as one Broadcast of
        one str (so the layer encodes it once per version).
        """
        first = self.room.join()
        second = self.room.join(WebSocketVersion.HIXIE_76)
        third = self.room.join(WebSocketVersion.HYBI_10)
        command = self.room.say(first, {"type": "chat", "text": "hello, all"})
        self.assertIsInstance(command, Broadcast)
        self.assertEqual(set(command.conns), {first, second, third})
        payload = command.message
        self.assertIsInstance(payload, str)
        self.assertEqual(
            json.loads(payload),
            {
                "type": "chat",
                "from": {"id": first.id, "name": f"guest-{first.id}"},
                "text": "hello, all",
                "at": NOW_MS,
            },
        )

    def test_chatUsesCurrentName(self) -> None:
        conn = self.room.join()
        self.room.say(conn, {"type": "rename", "name": "ada"})
        self.room.received(conn)
        self.room.say(conn, {"type": "chat", "text": "hi"})
        [chat] = self.room.received(conn)
        self.assertEqual(chat["from"], {"id": conn.id, "name": "ada"})

    def test_chatLongestText(self) -> None:
        conn = self.room.join()
        self.room.received(conn)
        text = "x" * MAX_TEXT_LENGTH
        self.room.say(conn, {"type": "chat", "text": text})
        [chat] = self.room.received(conn)
        self.assertEqual(chat["text"], text)

    def test_chatKeepsText(self) -> None:
        """Text is passed on as it came: markup, spaces and all."""
        conn = self.room.join()
        self.room.received(conn)
        text = "  <b>not bold</b> & \u00e9\u6f22\U0001f600\n"
        self.room.say(conn, {"type": "chat", "text": text})
        [chat] = self.room.received(conn)
        self.assertEqual(chat["text"], text)

    def test_loneSurrogate(self) -> None:
        """
        Text with a lone surrogate (valid as a JSON escape) is passed on
        escaped, so it can still be sent as UTF-8.
        """
        conn = self.room.join()
        self.room.received(conn)
        self.room.say(conn, '{"type": "chat", "text": "a\\ud800b"}')
        [payload] = conn.sent[-1:]
        payload.encode("utf-8")
        self.assertEqual(json.loads(payload)["text"], "a\ud800b")

    def test_invalidInput(self) -> None:
        """
        Anything the protocol does not allow gets an error message, to the
        sender only; the connection stays open and nothing changes.
        """
        bad: list[str | bytes | dict[str, Any]] = [
            b'{"type": "chat", "text": "binary"}',
            "not JSON",
            "",
            "[1, 2]",
            '"chat"',
            "[" * 100_000,
            {"text": "no type"},
            {"type": "dance"},
            {"type": ["chat"]},
            {"type": "chat"},
            {"type": "chat", "text": 42},
            {"type": "chat", "text": None},
            {"type": "chat", "text": ""},
            {"type": "chat", "text": " \n\t "},
            {"type": "chat", "text": "x" * (MAX_TEXT_LENGTH + 1)},
            {"type": "rename"},
            {"type": "rename", "name": 42},
            {"type": "rename", "name": ""},
            {"type": "rename", "name": "   "},
            {"type": "rename", "name": "n" * (MAX_NAME_LENGTH + 1)},
            {"type": "rename", "name": "two\nlines"},
            {"type": "rename", "name": "zero\u200bwidth"},
        ]
        sender, other = self.room.join(), self.room.join()
        self.room.received(sender)
        self.room.received(other)
        for message in bad:
            command = self.room.say(sender, message)
            self.assertIsInstance(command, SendMessage, message)
            self.assertIs(command.conn, sender)
            [error] = self.room.received(sender)
            self.assertEqual(error["type"], "error", message)
            self.assertIsInstance(error["error"], str)
            self.assertTrue(error["error"])
        self.assertEqual(self.room.received(other), [])
        self.assertEqual(sender.closes, [])
        self.assertEqual(sender.state.name, f"guest-{sender.id}")

    def test_errorMessages(self) -> None:
        """The error says what was wrong."""
        conn = self.room.join()
        self.room.received(conn)
        cases = [
            ({"type": "chat", "text": "x" * (MAX_TEXT_LENGTH + 1)}, str(MAX_TEXT_LENGTH)),
            ({"type": "rename", "name": "n" * (MAX_NAME_LENGTH + 1)}, str(MAX_NAME_LENGTH)),
            ({"type": "chat", "text": ""}, "empty"),
            ("{", "JSON"),
            (b"\x00", "binary"),
        ]
        for message, needle in cases:
            self.room.say(conn, message)
            [error] = self.room.received(conn)
            self.assertIn(needle, error["error"])

    def test_onError(self) -> None:
        """A failure closes the connection with 1011 (internal error)."""
        conn = self.room.join()
        command = self.room.chat.onError(conn, None)
        self.assertIsInstance(command, CloseConnection)
        self.assertIs(command.conn, conn)
        self.assertEqual(command.code, 1011)

    def test_rawConnection(self) -> None:
        """Over plain TCP (no version), the demo still runs."""
        conn = FakeConnection()
        self.room.run(self.room.chat.onOpen(conn))
        [welcome, _] = self.room.received(conn)
        self.assertEqual(welcome["you"]["version"], "raw")


# The same room, through the real WebSocket layer over in-memory transports.

#: The worked example of draft-hixie-thewebsocketprotocol-76, section 1.3.
HIXIE_KEY1 = "4 @1  46546xW%0l 1 5"
HIXIE_KEY2 = "12998 5 Y3 1  .P00"
HIXIE_KEY3 = b"^n:ds[4U"
HIXIE_ANSWER = b"8jKS'y:G*Co,Wxa-"


class Client:
    """The client end of one in-memory connection: handshake, send, receive."""

    def __init__(self, server: Server, version: WebSocketVersion) -> None:
        self.version = version
        self.proto, self.transport = connectTo(server, StringTransportWithDisconnection())
        self._read = 0
        self._decoder = hybi.FrameDecoder(maxMessageSize=LIMIT, expectMasked=False)
        if version is WebSocketVersion.HIXIE_76:
            head = (
                "GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: WebSocket\r\n"
                "Connection: Upgrade\r\nOrigin: http://example.com\r\n"
                f"Sec-WebSocket-Key1: {HIXIE_KEY1}\r\nSec-WebSocket-Key2: {HIXIE_KEY2}\r\n\r\n"
            )
            self.proto.dataReceived(head.encode("latin-1") + HIXIE_KEY3)
            answer = self._output().partition(b"\r\n\r\n")[2]
            if answer[:16] != HIXIE_ANSWER:
                raise AssertionError(f"Hixie-76 handshake failed: {answer!r}")
            self._pending = answer[16:]
        else:
            head = (
                "GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: {version.wireNumber}\r\n\r\n"
            )
            self.proto.dataReceived(head.encode("latin-1"))
            response, _, self._pending = self._output().partition(b"\r\n\r\n")
            if not response.startswith(b"HTTP/1.1 101 "):
                raise AssertionError(f"handshake failed: {response!r}")

    def _output(self) -> bytes:
        value = self.transport.value()
        data, self._read = value[self._read :], len(value)
        return data

    def send(self, message: dict[str, Any]) -> None:
        text = json.dumps(message)
        if self.version.isHixie:
            self.proto.dataReceived(b"\x00" + text.encode("utf-8") + b"\xff")
        else:
            self.proto.dataReceived(
                hybi.encodeFrame(hybi.Opcode.TEXT, text.encode("utf-8"), mask=os.urandom(4))
            )

    def received(self) -> list[dict[str, Any]]:
        """The messages the server sent since the last call, decoded."""
        data, self._pending = self._pending + self._output(), b""
        if self.version.isHixie:
            texts = re.findall(rb"\x00([^\xff]*)\xff", data)
            if b"".join(b"\x00" + t + b"\xff" for t in texts) != data:
                raise AssertionError(f"not only Hixie text frames: {data!r}")
            return [json.loads(t.decode("utf-8")) for t in texts]
        events = self._decoder.feed(data)
        for event in events:
            if type(event) is not str:
                raise AssertionError(f"expected text messages, got {event!r}")
        return [json.loads(event) for event in events]


class MixedRoomTests(SynchronousTestCase):
    """Clients of three WebSocket generations in one demo room."""

    def setUp(self) -> None:
        self.server = Server(WebSocket(DemoChat(now=lambda: NOW), clock=Clock()))

    def test_everyVersionChats(self) -> None:
        rfc = Client(self.server, WebSocketVersion.RFC6455)
        hixie = Client(self.server, WebSocketVersion.HIXIE_76)
        hybi10 = Client(self.server, WebSocketVersion.HYBI_10)

        welcome = hixie.received()[0]
        self.assertEqual(welcome["type"], "welcome")
        self.assertEqual(welcome["you"]["version"], "hixie-76")
        self.assertEqual(
            [c["version"] for c in rfc.received()[-1]["clients"]],
            ["rfc6455", "hixie-76", "hybi-10"],
        )
        hybi10.received()
        hixie.received()

        hixie.send({"type": "chat", "text": "hello from 2010 \u2603"})
        for client in (rfc, hixie, hybi10):
            [chat] = client.received()
            self.assertEqual(chat["type"], "chat")
            self.assertEqual(chat["text"], "hello from 2010 \u2603")
            self.assertEqual(chat["at"], NOW_MS)

        rfc.send({"type": "rename", "name": "modern"})
        [roster] = hixie.received()
        self.assertEqual(roster["clients"][0]["name"], "modern")

        hixie.send({"type": "chat", "text": ""})
        [error] = hixie.received()
        self.assertEqual(error["type"], "error")
        self.assertEqual(rfc.received(), [{"type": "roster", "clients": roster["clients"]}])
        self.assertTrue(hixie.transport.connected)

    def test_leaving(self) -> None:
        rfc = Client(self.server, WebSocketVersion.RFC6455)
        hixie = Client(self.server, WebSocketVersion.HIXIE_76)
        rfc.received()
        hixie.transport.loseConnection()
        [roster] = rfc.received()
        self.assertEqual([c["version"] for c in roster["clients"]], ["rfc6455"])


# The web site.


def render(resource: Any, request: DummyRequest) -> bytes:
    """Render C{resource} (a static file too) and return the response body."""
    result = resource.render(request)
    if result is not NOT_DONE_YET:
        request.write(result)
        request.finish()
    if not request.finished:
        raise AssertionError("the response did not finish")
    return b"".join(request.written)


def get(root: Any, path: bytes) -> tuple[DummyRequest, bytes]:
    """GET C{path} from the site whose root resource is C{root}."""
    request = DummyRequest(path.lstrip(b"/").split(b"/"))
    request.uri = path
    resource = getChildForRequest(root, request)
    return request, render(resource, request)


def siteConnection(root: Any) -> StringTransportWithDisconnection:
    """A connection to C{Site(root)} over an in-memory transport."""
    site = Site(root, reactor=Clock())
    channel = site.buildProtocol(IPv4Address("TCP", "192.0.2.9", 50000))
    transport = StringTransportWithDisconnection()
    transport.protocol = channel
    channel.makeConnection(transport)
    return transport


def header(request: DummyRequest, name: bytes) -> bytes | None:
    values = request.responseHeaders.getRawHeaders(name)
    return values[0] if values else None


class DemoResourceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.root, self.chat = demoResource(clock=Clock())

    def test_resources(self) -> None:
        """The WebSocket is the C{/ws} child of the root, serving a DemoChat."""
        self.assertIsInstance(self.chat, WebSocketResource)
        self.assertIs(self.root.children[b"ws"], self.chat)
        self.assertIsInstance(self.chat.layer.app, DemoChat)

    def test_page(self) -> None:
        """C{/} is the chat page, as UTF-8 HTML, kept to its own origin."""
        request, body = get(self.root, b"/")
        self.assertEqual(request.responseCode or 200, 200)
        self.assertEqual(body, (STATIC / "index.html").read_bytes())
        self.assertEqual(header(request, b"content-type"), b"text/html; charset=utf-8")
        policy = header(request, b"content-security-policy")
        self.assertIsNotNone(policy)
        self.assertIn(b"default-src 'self'", policy)
        self.assertEqual(header(request, b"x-content-type-options"), b"nosniff")

    def test_assets(self) -> None:
        for name, contentType in [
            (b"app.js", b"text/javascript; charset=utf-8"),
            (b"style.css", b"text/css; charset=utf-8"),
        ]:
            request, body = get(self.root, b"/" + name)
            self.assertEqual(body, (STATIC / name.decode()).read_bytes())
            self.assertEqual(header(request, b"content-type"), contentType)

    def test_missing(self) -> None:
        request, _ = get(self.root, b"/nothing-here.html")
        self.assertEqual(request.responseCode, 404)

    def test_plainGetToWebSocket(self) -> None:
        """A plain GET to C{/ws} is told to upgrade: 426."""
        transport = siteConnection(self.root)
        transport.protocol.dataReceived(b"GET /ws HTTP/1.1\r\nHost: example.com\r\n\r\n")
        response = transport.value()
        self.assertTrue(response.startswith(b"HTTP/1.1 426 "), response)
        self.assertIn(b"\r\nUpgrade: websocket\r\n", response)

    def test_webSocketThroughTheSite(self) -> None:
        """A WebSocket handshake to C{/ws} of the site joins the chat room."""
        transport = siteConnection(self.root)
        transport.protocol.dataReceived(
            b"GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        head, _, frames = transport.value().partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        welcome, roster = hybi.FrameDecoder(maxMessageSize=LIMIT, expectMasked=False).feed(frames)
        self.assertEqual(json.loads(welcome)["you"]["version"], "rfc6455")
        self.assertEqual(json.loads(roster)["type"], "roster")
        self.assertEqual(len(self.chat.layer.app.clients), 1)
        transport.loseConnection()
        self.assertEqual(self.chat.layer.app.clients, {})

    def test_settings(self) -> None:
        """WebSocket settings reach the layer, as fields or as a Settings."""
        _, chat = demoResource(maxMessageSize=12345)
        self.assertEqual(chat.layer.settings.maxMessageSize, 12345)
        _, chat = demoResource(settings=Settings.build(maxMessageSize=23456))
        self.assertEqual(chat.layer.settings.maxMessageSize, 23456)

    def test_eachSiteItsOwnRoom(self) -> None:
        _, other = demoResource()
        self.assertIsNot(other.layer.app, self.chat.layer.app)

    def test_noDirectoryListing(self) -> None:
        """A folder without an index is not listed: 404."""
        base = tempfile.mkdtemp(prefix="ratchet-static-")
        self.addCleanup(shutil.rmtree, base, ignore_errors=True)
        os.makedirs(os.path.join(base, "sub"))
        with open(os.path.join(base, "sub", "secret.txt"), "w") as f:
            f.write("x")
        for path in (b"/", b"/sub/"):
            request, body = get(StaticFiles(base), path)
            self.assertEqual(request.responseCode, 404, path)
            self.assertNotIn(b"secret", body)


class StaticFilesTests(SynchronousTestCase):
    """L{StaticFiles}, which serves the demo's page and C{--static}."""

    def setUp(self) -> None:
        self.base = tempfile.mkdtemp(prefix="ratchet-static-")
        self.addCleanup(shutil.rmtree, self.base, ignore_errors=True)
        os.makedirs(os.path.join(self.base, "sub"))
        with open(os.path.join(self.base, "sub", "page.html"), "w") as f:
            f.write("<p>hi</p>")

    def test_headersReachEveryFileBelow(self) -> None:
        root = StaticFiles(self.base, {b"content-security-policy": b"default-src 'self'"})
        request, body = get(root, b"/sub/page.html")
        self.assertEqual(body, b"<p>hi</p>")
        self.assertEqual(header(request, b"content-type"), b"text/html; charset=utf-8")
        self.assertEqual(header(request, b"content-security-policy"), b"default-src 'self'")
        self.assertEqual(header(request, b"x-content-type-options"), b"nosniff")

    def test_noPolicyUnlessGiven(self) -> None:
        request, _ = get(StaticFiles(self.base), b"/sub/page.html")
        self.assertIsNone(header(request, b"content-security-policy"))
        self.assertEqual(header(request, b"x-content-type-options"), b"nosniff")

    def test_missingFileBelow(self) -> None:
        request, _ = get(StaticFiles(self.base), b"/sub/nothing.html")
        self.assertEqual(request.responseCode, 404)


class PageTests(SynchronousTestCase):
    """What can be checked of the page without a browser."""

    def test_ids(self) -> None:
        """The elements tests and users rely on are there."""
        html = (STATIC / "index.html").read_text("utf-8")
        for name in ("messages", "input", "send", "roster", "status", "name", "rename"):
            self.assertIn(f'id="{name}"', html)

    def test_noExternalResources(self) -> None:
        """Nothing is loaded from another host: no CDN, no web fonts."""
        for name in ("index.html", "app.js", "style.css"):
            text = (STATIC / name).read_text("utf-8")
            self.assertIsNone(re.search(r"(https?:)?//[\w.-]+\.\w", _withoutComments(text)), name)
            self.assertNotIn("@import", text)
            self.assertNotIn("@font-face", text)

    def test_noInnerHTML(self) -> None:
        """User text goes into the page as text only."""
        script = (STATIC / "app.js").read_text("utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            self.assertNotIn(sink, script)

    def test_webSocketURL(self) -> None:
        script = (STATIC / "app.js").read_text("utf-8")
        self.assertIn(
            '(location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws"',
            script,
        )


def _withoutComments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|<!--.*?-->", "", text, flags=re.S)
