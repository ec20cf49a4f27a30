"""
The PHP session example (C{examples/php-session}) end to end: a real PHP
site (C{php -S}, phpredis keeping its sessions in a real C{redis-server}),
the example's chat behind C{SessionProvider(..., required=True)} and a
C{PHPRedisStore}, and headless Chromium: log in through the form, the
chat's message carries the name; log out, and the next socket is refused.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from ratchet_tx.redis import RedisClient
from ratchet_tx.session import PHPRedisStore, SessionProvider
from tests.session.frameworks import requirePHP
from tests.session.helpers import listenWebSocket
from tests.support.browser import Chromium
from tests.support.redisserver import RedisServer, freePort
from tests.support.system import requirePackage

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "php-session"
#: A bound on every wait (the machine is shared).
WAIT = 20.0


def waitForPort(port: int) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {WAIT} s")


class PHPDemoTests(TestCase):
    timeout = 120

    async def setUp(self) -> None:  # type: ignore[override]
        requirePackage("php-redis", "the PHP session example's test")
        php = requirePHP(self)
        self.redis = RedisServer.start()
        self.addCleanup(self.redis.stop)
        client = RedisClient(reactor, self.redis.url())
        self.addCleanup(client.close)
        await client.whenConnected(WAIT)
        sys.path.insert(0, str(EXAMPLE))
        self.addCleanup(sys.path.remove, str(EXAMPLE))
        from chat import NamedChat  # the example's own

        app = SessionProvider(NamedChat(), PHPRedisStore(client), required=True)
        self.chatPort = await listenWebSocket(self, app)
        self.sitePort = freePort()
        environment = dict(
            os.environ,
            REDIS_URL=f"tcp://127.0.0.1:{self.redis.port}?database=0",
            CHAT_URL=f"ws://127.0.0.1:{self.chatPort}/chat",
        )
        site = subprocess.Popen(
            [
                php,
                "-n",
                "-d",
                "extension=igbinary",
                "-d",
                "extension=redis",
                "-S",
                f"127.0.0.1:{self.sitePort}",
                "-t",
                str(EXAMPLE),
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.addCleanup(site.wait, 10)
        self.addCleanup(site.kill)
        await deferToThread(waitForPort, self.sitePort)

    def browse(self) -> list[Any]:
        """In a thread: the whole visit, in a real browser."""
        with Chromium.start() as browser:
            page = browser.newPage()
            site = f"http://127.0.0.1:{self.sitePort}/"
            page.navigate(site)
            page.evaluate("document.getElementById('name').value = 'Ada Lovelace'")
            page.evaluate("document.getElementById('login').submit()")
            page.waitFor("!!document.getElementById('hello')", WAIT, "the logged-in page")
            page.waitFor(
                "document.getElementById('status').dataset.state === 'connected'",
                WAIT,
                "the chat socket",
            )
            page.evaluate("document.getElementById('message').value = 'hi there'")
            page.evaluate("document.getElementById('say').requestSubmit()")
            line = page.waitFor(
                "document.querySelector('#log li')?.textContent", WAIT, "the chat's answer"
            )
            page.evaluate("document.getElementById('logout').submit()")
            page.waitFor("!!document.getElementById('login')", WAIT, "the logged-out page")
            cookie = page.evaluate("document.cookie")
            probe = page.evaluate(
                "new Promise((resolve) => {"
                f" const s = new WebSocket('ws://127.0.0.1:{self.chatPort}/chat');"
                " s.onopen = () => resolve('open');"
                " s.onclose = () => resolve('refused'); })"
            )
            return [line, cookie, probe]

    async def test_logInChatLogOut(self) -> None:
        line, cookie, probe = await deferToThread(self.browse)
        self.assertEqual(line, "Ada Lovelace: hi there")
        self.assertIn("PHPSESSID=", cookie)  # the browser still sends a cookie...
        self.assertEqual(probe, "refused")  # ...but its session is gone
        # What PHP wrote back for the old cookie after the logout: nothing.
        [key] = self.redis.command("KEYS", "PHPREDIS_SESSION:*")
        self.assertEqual(self.redis.command("GET", key), b"")
