"""
A headless Chromium driven over the DevTools protocol (CDP), for tests that
need a real browser: its own C{WebSocket}, its own JavaScript, its own page.

    browser = Chromium.start()
    try:
        page = browser.newPage()
        page.navigate(f"http://127.0.0.1:{port}/")
        page.waitFor("document.getElementById('status').dataset.state === 'connected'")
        print(page.evaluate("document.title"))
    finally:
        browser.close()

Nothing to install but Debian's C{chromium} and the C{websockets} client this
suite already uses: the browser is started with C{--remote-debugging-port=0},
announces the port it chose in C{<profile>/DevToolsActivePort}, and each page
(a CDP target) is driven over its own DevTools WebSocket with JSON-RPC calls.

Every wait is bounded.  The browser runs in a process group of its own, and
L{Chromium.close} kills the whole group and deletes its profile.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import count
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as websocketConnect

from tests.support.system import requirePackage

#: The Debian package of the browser (see L{tests.support.system}).
CHROMIUM_PACKAGE = "chromium"


def chromiumCommand(executable: str, profile: Path) -> list[str]:
    """The command line a test browser runs with: headless, quiet, its own profile."""
    return [
        executable,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "about:blank",
    ]


#: How long to wait for the browser to announce its DevTools port.
START_TIMEOUT = 30.0

#: How long one DevTools call may take.
CALL_TIMEOUT = 15.0

#: How long L{Page.waitFor} waits by default.
WAIT_TIMEOUT = 10.0

#: How often L{Page.waitFor} evaluates its condition.
POLL_INTERVAL = 0.05

#: The largest DevTools message accepted (screenshots come base64-encoded).
MAX_MESSAGE_SIZE = 64 * 2**20

#: How many console messages and errors a page keeps for error reports.
MAX_CONSOLE = 200

#: The eight bytes every PNG file starts with.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class BrowserError(AssertionError):
    """The browser did not do what the test needed; the message says what it saw."""


class Chromium:
    """
    A running headless Chromium.

    @ivar port: its DevTools port on the loopback interface.
    @ivar profile: its (temporary) user data directory.
    """

    def __init__(self, popen: subprocess.Popen[bytes], profile: Path, logPath: Path) -> None:
        self._popen = popen
        self._logPath = logPath
        self._pages: list[Page] = []
        self._finalLog: str | None = None
        self.profile = profile
        self.port = 0
        self.pid = popen.pid

    @classmethod
    def start(cls, executable: str | None = None, timeout: float = START_TIMEOUT) -> Chromium:
        """
        Start the browser and wait (at most C{timeout} seconds) until its
        DevTools endpoint is up.

        @param executable: the browser; by default Debian's C{chromium}.
        @raise MissingSystemPackage: C{chromium} is not installed (the
            message says how to install it).
        @raise BrowserError: C{executable} does not exist, or the browser
            exited or did not announce its port in time (it is killed first).
        """
        if executable is None:
            requirePackage(CHROMIUM_PACKAGE, "the browser tests")
            executable = shutil.which("chromium") or "chromium"
        if not os.access(executable, os.X_OK):
            raise BrowserError(f"no browser at {executable}")
        workdir = Path(tempfile.mkdtemp(prefix="ratchet-chromium-"))
        profile = workdir / "profile"
        profile.mkdir()
        logPath = workdir / "chromium.log"
        with open(logPath, "wb") as log:
            popen = subprocess.Popen(
                chromiumCommand(executable, profile),
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
        browser = cls(popen, profile, logPath)
        try:
            browser._waitForDevTools(timeout)
        except BaseException:
            browser.close()
            raise
        return browser

    def _waitForDevTools(self, timeout: float) -> None:
        portFile = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while True:
            try:
                lines = portFile.read_text().split()
            except FileNotFoundError:
                lines = []
            if len(lines) >= 2 and lines[0].isdigit():
                self.port = int(lines[0])
                return
            if self._popen.poll() is not None:
                raise BrowserError(
                    f"chromium exited with {self._popen.returncode} before it "
                    f"served DevTools:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise BrowserError(
                    f"chromium did not announce a DevTools port within {timeout}s:\n" + self.log()
                )
            time.sleep(POLL_INTERVAL)

    def log(self) -> str:
        """What the browser printed (its last 4000 characters)."""
        if self._finalLog is not None:
            return self._finalLog
        try:
            return self._logPath.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def newPage(self, url: str = "about:blank", timeout: float = CALL_TIMEOUT) -> Page:
        """
        Open a new tab (a CDP page target) and connect to it.  With a C{url},
        wait until it has loaded.
        """
        with self._connect("/devtools/browser", timeout) as browser:
            target = _call(browser, 1, "Target.createTarget", {"url": "about:blank"}, timeout)
        page = Page(self._connect(f"/devtools/page/{target['targetId']}", timeout))
        self._pages.append(page)
        if url != "about:blank":
            page.navigate(url, timeout)
        return page

    def _connect(self, path: str, timeout: float) -> ClientConnection:
        if path == "/devtools/browser":
            # The port file's second line is the browser target's path.
            path = (self.profile / "DevToolsActivePort").read_text().split()[1]
        return websocketConnect(
            f"ws://127.0.0.1:{self.port}{path}",
            open_timeout=timeout,
            close_timeout=1,
            max_size=MAX_MESSAGE_SIZE,
            compression=None,
            proxy=None,
            ping_interval=None,
        )

    def close(self) -> None:
        """Kill the browser and everything it started; delete its profile."""
        for page in self._pages:
            page.close()
        self._pages = []
        if self._popen.poll() is None:
            try:
                os.killpg(self._popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self._popen.wait(10)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait(10)
        if self._finalLog is None:
            self._finalLog = self.log()
            shutil.rmtree(self._logPath.parent, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Chromium pid={self.pid} devtools=127.0.0.1:{self.port}>"


class Page:
    """
    One browser tab, driven over its DevTools WebSocket.

    It records the page's console output, uncaught exceptions and browser log
    entries (network errors, Content-Security-Policy violations) in
    L{console}, so a test can assert there were none and a failed wait can
    say what went wrong.
    """

    def __init__(self, connection: ClientConnection) -> None:
        # Entered as a context manager: what every websockets version takes.
        self._exit = ExitStack()
        self._connection = self._exit.enter_context(connection)
        self._ids = count(1)
        self._closed = False
        self.console: list[str] = []
        self.call("Runtime.enable")
        self.call("Log.enable")
        self.call("Page.enable")

    # The protocol.

    def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = CALL_TIMEOUT
    ) -> dict[str, Any]:
        """
        Call a DevTools method and return its result, recording the events
        that arrive meanwhile.

        @raise BrowserError: the browser answered with an error, or not
            within C{timeout} seconds.
        """
        return _call(self._connection, next(self._ids), method, params or {}, timeout, self._event)

    def _event(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(_remoteValue(arg) for arg in params.get("args", []))
            self._record(f"console.{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception", {})
            self._record(f"uncaught: {exception.get('description') or details.get('text')}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self._record(f"{entry.get('level')} ({entry.get('source')}): {entry.get('text')}")

    def _record(self, line: str) -> None:
        if len(self.console) < MAX_CONSOLE:
            self.console.append(line)

    def errors(self) -> list[str]:
        """The uncaught exceptions and error-level log entries so far."""
        return [
            line
            for line in self.console
            if line.startswith(("uncaught:", "error ", "console.error:"))
        ]

    # What tests do with a page.

    def navigate(self, url: str, timeout: float = WAIT_TIMEOUT) -> None:
        """Load C{url} and wait until its document (scripts included) has loaded."""
        result = self.call("Page.navigate", {"url": url}, timeout)
        if result.get("errorText"):
            raise BrowserError(f"could not load {url}: {result['errorText']}")
        self.waitFor(
            f"location.href === new URL({json.dumps(url)}).href"
            " && document.readyState === 'complete'",
            timeout,
            what=f"{url} to load",
        )

    def evaluate(self, expression: str, timeout: float = CALL_TIMEOUT) -> Any:
        """
        The value of a JavaScript expression in the page (JSON-like values
        come back as Python ones; a Promise is awaited).

        @raise BrowserError: the expression threw.
        """
        result = self.call(
            "Runtime.evaluate",
            {
                "expression": expression,
                "returnByValue": True,
                "awaitPromise": True,
                "timeout": int(timeout * 1000),
            },
            timeout,
        )
        details = result.get("exceptionDetails")
        if details is not None:
            exception = details.get("exception", {})
            raise BrowserError(
                f"{expression!r} threw: {exception.get('description') or details.get('text')}"
            )
        return result.get("result", {}).get("value")

    def waitFor(self, condition: str, timeout: float = WAIT_TIMEOUT, what: str = "") -> Any:
        """
        Evaluate the JavaScript expression C{condition} until it is truthy,
        for at most C{timeout} seconds; return its value.

        @raise BrowserError: it was still falsy at the deadline; the message
            holds the page's console output.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            value = self.evaluate(condition, max(remaining, 1.0))
            if value:
                return value
            if time.monotonic() > deadline:
                console = "\n".join(self.console) or "(nothing)"
                raise BrowserError(
                    f"waited {timeout}s for {what or condition}; last value {value!r}.\n"
                    f"The page's console:\n{console}"
                )
            time.sleep(POLL_INTERVAL)

    def setViewport(self, width: int, height: int) -> None:
        """Make the page's viewport C{width} x C{height} CSS pixels."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def screenshot(self) -> bytes:
        """The page as it looks now, as PNG bytes (the tab is brought to the front first)."""
        self.call("Page.bringToFront")
        result = self.call("Page.captureScreenshot", {"format": "png"})
        return base64.b64decode(result["data"])

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._exit.close()


def _call(
    connection: ClientConnection,
    messageId: int,
    method: str,
    params: dict[str, Any],
    timeout: float,
    onEvent: Any = None,
) -> dict[str, Any]:
    connection.send(json.dumps({"id": messageId, "method": method, "params": params}))
    deadline = time.monotonic() + timeout
    for message in _messages(connection, deadline, method):
        if message.get("id") == messageId:
            if "error" in message:
                raise BrowserError(f"{method} failed: {message['error']}")
            return message.get("result", {})
        if onEvent is not None and "method" in message:
            onEvent(message)
    raise AssertionError("unreachable")


def _messages(
    connection: ClientConnection, deadline: float, method: str
) -> Iterator[dict[str, Any]]:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrowserError(f"no answer to {method} in time")
        try:
            raw = connection.recv(timeout=remaining)
        except TimeoutError:
            continue
        yield json.loads(raw)


def _remoteValue(value: dict[str, Any]) -> str:
    if "value" in value:
        return str(value["value"])
    return str(value.get("description") or value.get("type"))


def isPNG(data: bytes) -> bool:
    """Whether C{data} starts like a PNG file."""
    return data[:8] == PNG_SIGNATURE


def pngSize(data: bytes) -> tuple[int, int]:
    """The width and height of a PNG image, from its header."""
    if not isPNG(data) or data[12:16] != b"IHDR":
        raise BrowserError("not a PNG image")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
