"""
The demo page and a static site with a mounted application, in a real
browser: headless Chromium's own C{WebSocket}, JavaScript and rendering,
against servers running in subprocesses.

These tests need Debian's C{chromium}; without it they fail with the line
that installs it (C{scripts/test} installs it when run as root).
Set C{RATCHET_TX_SCREENSHOTS=DIR} to keep the screenshots they take.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import zlib
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.support.browser import Chromium, Page, isPNG, pngSize
from tests.support.demoserver import ServerProcess
from tests.support.twistd import TwistdProcess
from tests.support.wsclients import Hixie76Client, HybiClient


def startDemoServer(port: int = 0) -> TwistdProcess:
    """
    C{twistd -n ratchet} serving the built-in demo, on C{port} of the
    loopback interface (0: a free one).  It has C{port} and C{stop()}.
    """
    return TwistdProcess.start("--listen", f"tcp:{port}:interface=127.0.0.1")


#: A bound on every wait for the page (a first reconnection takes ~1 s).
TIMEOUT = 10.0

#: The size of the screenshots, in CSS pixels.
SCREEN = (1100, 700)

# What the tests read from the demo page.
STATUS = "document.getElementById('status').dataset.state"
STATUS_TEXT = "document.getElementById('status').textContent"
ROSTER = """Array.from(document.querySelectorAll('#roster li')).map(li => ({
    name: li.querySelector('.name').textContent,
    badge: li.querySelector('.badge').textContent,
    me: li.classList.contains('me'),
}))"""
MESSAGES = "Array.from(document.querySelectorAll('#messages .message .text'), e => e.textContent)"


def rosterSize(size: int) -> str:
    return f"document.querySelectorAll('#roster li').length === {size}"


def showsMessage(text: str) -> str:
    return f"{MESSAGES}.includes({json.dumps(text)})"


def sendChat(page: Page, text: str) -> None:
    """Type C{text} into the page's message box and click Send."""
    page.evaluate(
        f"document.getElementById('input').value = {json.dumps(text)};"
        "document.getElementById('send').click()"
    )


def rename(page: Page, name: str) -> None:
    page.evaluate(
        f"document.getElementById('name').value = {json.dumps(name)};"
        "document.getElementById('rename').click()"
    )


def receiveUntil(client, type: str, test=lambda message: True) -> dict:
    """The next message of C{type} (that passes C{test}) the client gets."""
    deadline = time.monotonic() + TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        message = json.loads(client.recvMessage(timeout=max(deadline - time.monotonic(), 0.1)))
        if message["type"] == type and test(message):
            return message
        seen.append(message)
    raise AssertionError(f"no such {type!r} message in {TIMEOUT}s; got {seen!r}")


class BrowserTestCase(SynchronousTestCase):
    """Start a browser and servers, and always clean them up."""

    _browser: Chromium | None = None

    @property
    def browser(self) -> Chromium:
        """
        The browser, started on first use: inside the test, so that a
        missing browser fails the test (rather than erring in setUp).
        """
        if self._browser is None:
            self._browser = Chromium.start()
            self.addCleanup(self._browser.close)
        return self._browser

    def startDemo(self, port: int = 0) -> str:
        server = startDemoServer(port)
        self.addCleanup(server.stop)
        self.server = server
        return f"http://127.0.0.1:{server.port}/"

    def openDemo(self, url: str, clients: int = 1) -> Page:
        """A tab with the demo page, connected, once the room has C{clients}."""
        page = self.browser.newPage(url, timeout=TIMEOUT)
        page.waitFor(f"{STATUS} === 'connected' && {rosterSize(clients)}", TIMEOUT)
        return page

    def assertNoErrors(self, page: Page) -> None:
        """The page threw nothing and the browser logged no error for it."""
        self.assertEqual(page.errors(), [])

    def client(self, factory, *args, **kwargs):
        client = factory(*args, **kwargs)
        self.addCleanup(client.abort)
        return client

    def screenshot(self, page: Page, name: str) -> bytes:
        """Take a screenshot, check it, and keep it if asked to."""
        page.setViewport(*SCREEN)
        png = page.screenshot()
        directory = os.environ.get("RATCHET_TX_SCREENSHOTS")
        if not directory:
            directory = tempfile.mkdtemp(prefix="ratchet-screenshots-")
            self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        Path(directory, name).write_bytes(png)
        self.assertTrue(isPNG(png), png[:16])
        self.assertEqual(pngSize(png), SCREEN)
        # A page with content, not a blank or single-colour one: many
        # different bytes in the decompressed image, and no tiny file.
        self.assertGreater(len(png), 20_000)
        self.assertGreater(len(set(pngPixelData(png))), 64)
        return png


def pngPixelData(png: bytes) -> bytes:
    """The decompressed image data of a PNG (its IDAT chunks)."""
    data, at = b"", 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        kind = png[at + 4 : at + 8]
        if kind == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    return zlib.decompress(data)


class DemoPageTests(BrowserTestCase):
    """The built-in demo, as its users see it."""

    def test_twoTabsChat(self) -> None:
        """
        Two tabs join the room over RFC 6455, see each other, and a message
        typed in one shows up in both, as text.
        """
        url = self.startDemo()
        first = self.openDemo(url, clients=1)
        second = self.openDemo(url, clients=2)
        first.waitFor(rosterSize(2), TIMEOUT)

        for page in (first, second):
            self.assertEqual(page.evaluate(STATUS_TEXT), "connected")
            roster = page.evaluate(ROSTER)
            self.assertEqual([entry["badge"] for entry in roster], ["RFC 6455", "RFC 6455"])
            self.assertEqual([entry["me"] for entry in roster].count(True), 1)
        firstMe = [e["name"] for e in first.evaluate(ROSTER) if e["me"]]
        secondMe = [e["name"] for e in second.evaluate(ROSTER) if e["me"]]
        self.assertNotEqual(firstMe, secondMe)

        text = "Hello from tab 1 <b>not bold</b> & \u2603"
        sendChat(first, text)
        second.waitFor(showsMessage(text), TIMEOUT)
        first.waitFor(showsMessage(text), TIMEOUT)
        for page in (first, second):
            self.assertIsNone(page.evaluate("document.querySelector('#messages b')"))
        self.assertEqual(first.evaluate("document.getElementById('input').value"), "")
        self.assertNoErrors(first)
        self.assertNoErrors(second)

    def test_everyVersionInOneRoom(self) -> None:
        """
        Hixie-76 and HyBi-10 clients join the browser's room: the page shows
        their versions, and messages go both ways.  Then a screenshot.
        """
        url = self.startDemo()
        page = self.openDemo(url, clients=1)
        port = self.server.port
        hixie = self.client(Hixie76Client, port, path="/ws", origin=url.rstrip("/"))
        hybi10 = self.client(HybiClient, port, version=8, path="/ws")
        page.waitFor(rosterSize(3), TIMEOUT)
        badges = [entry["badge"] for entry in page.evaluate(ROSTER)]
        self.assertEqual(badges, ["RFC 6455", "Hixie-76", "HyBi-10"])

        hixie.send(json.dumps({"type": "chat", "text": "Hello from Safari 5"}))
        page.waitFor(showsMessage("Hello from Safari 5"), TIMEOUT)

        sendChat(page, "Hello, old friends")
        for client in (hixie, hybi10):
            chat = receiveUntil(client, "chat", lambda m: m["text"] == "Hello, old friends")
            self.assertIsInstance(chat["at"], int)

        rename(page, "ada")
        roster = receiveUntil(
            hixie, "roster", lambda m: any(c["name"] == "ada" for c in m["clients"])
        )
        self.assertEqual(roster["clients"][0]["version"], "rfc6455")
        page.waitFor("document.querySelector('#roster li.me .name').textContent === 'ada'")

        sendChat(page, "Everyone here speaks a different WebSocket.")
        page.waitFor(showsMessage("Everyone here speaks a different WebSocket."), TIMEOUT)
        self.screenshot(page, "demo.png")
        self.assertNoErrors(page)

    def test_reconnects(self) -> None:
        """
        When the server goes away the page says so, with the close code, and
        connects again once the server is back.
        """
        url = self.startDemo()
        port = self.server.port
        page = self.openDemo(url, clients=1)
        self.server.stop()
        page.waitFor(f"{STATUS} === 'closed'", TIMEOUT)
        self.assertRegex(page.evaluate(STATUS_TEXT), r"^closed \(\d{4}\) · retrying in \d+ s$")
        self.assertTrue(page.evaluate("document.getElementById('input').disabled"))

        self.startDemo(port)
        page.waitFor(f"{STATUS} === 'connected' && {rosterSize(1)}", TIMEOUT)
        sendChat(page, "back again")
        page.waitFor(showsMessage("back again"), TIMEOUT)


ECHO_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>echo</title><link rel="icon" href="data:,"></head>
<body>
<p id="text">waiting</p>
<p id="binary">waiting</p>
<script>
var ws = new WebSocket("ws://" + location.host + "/echo");
ws.binaryType = "arraybuffer";
ws.onopen = function () {
  ws.send("hello, echo \\u2603");
  ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]).buffer);
};
ws.onmessage = function (event) {
  if (typeof event.data === "string") {
    document.getElementById("text").textContent = "echo: " + event.data;
  } else {
    document.getElementById("binary").textContent =
      "echo: " + Array.from(new Uint8Array(event.data)).join(",");
  }
};
ws.onclose = function (event) {
  document.getElementById("text").textContent = "closed " + event.code;
};
</script>
</body></html>
"""


class StaticSiteTests(BrowserTestCase):
    """A web site and a WebSocket application on one port, as a library user builds it."""

    def test_pageTalksToMountedApplication(self) -> None:
        """
        A page served by C{File} talks to C{WebSocketResource(Echo())}
        mounted at C{/echo} of the same site: text and binary come back.
        """
        site = Path(tempfile.mkdtemp(prefix="ratchet-site-"))
        self.addCleanup(shutil.rmtree, site, ignore_errors=True)
        (site / "index.html").write_text(ECHO_PAGE, encoding="utf-8")
        server = ServerProcess.start("static", str(site))
        self.addCleanup(server.stop)

        page = self.browser.newPage(f"http://127.0.0.1:{server.port}/", timeout=TIMEOUT)
        page.waitFor(
            "document.getElementById('text').textContent === 'echo: hello, echo \\u2603'"
            " && document.getElementById('binary').textContent === 'echo: 0,1,2,253,254,255'",
            TIMEOUT,
        )
        self.assertNoErrors(page)


class CompressionTests(BrowserTestCase):
    """Chromium and the demo agree on permessage-deflate."""

    def test_chromiumNegotiatesDeflate(self) -> None:
        """
        A socket the page opens to the demo's endpoint reports the
        permessage-deflate the server agreed to, and a compressible message
        comes back through the room intact.
        """
        url = self.startDemo()
        page = self.openDemo(url, clients=1)
        page.evaluate(
            """(() => {
                const ws = new WebSocket('ws://' + location.host + '/ws');
                window.probe = {ws: ws, messages: []};
                ws.onmessage = (e) => window.probe.messages.push(e.data);
            })()"""
        )
        page.waitFor("window.probe.ws.readyState === 1", TIMEOUT)
        self.assertEqual(
            page.evaluate("window.probe.ws.extensions"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        )
        text = json.dumps("compress me " * 300)
        page.evaluate(f"window.probe.ws.send(JSON.stringify({{type: 'chat', text: {text}}}))")
        page.waitFor(f"window.probe.messages.some(m => JSON.parse(m).text === {text})", TIMEOUT)
        self.assertNoErrors(page)
