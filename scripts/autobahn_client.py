#!/usr/bin/env python3
"""
Run the Autobahn|TestSuite's fuzzing server against ratchet_tx's client and
judge it strictly.

The runner (``$AUTOBAHN_DIR/serve.sh``, default ``../shared/autobahn`` beside
the checkout, needs root) starts the suite's fuzzing server on loopback and
runs this script again with ``--agent`` as its test agent: the agent asks
the server for its case count, runs every case with
L{ratchet_tx.client.connect} and an echo application, and asks for the
report.  The exit status is 0 only if every case is OK or INFORMATIONAL with
close behaviour OK (no NON-STRICT, FAILED, UNIMPLEMENTED).

Examples::

    scripts/autobahn_client.py                          # all 517 cases, RFC 6455
    scripts/autobahn_client.py --hybi10 -x '12.*,13.*'  # HyBi-10, no compression
    scripts/autobahn_client.py --cases '5.*,6.4.*'      # some cases only
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from autobahn import judge  # noqa: E402  (the server runs' strict judge)
from zope.interface import implementer  # noqa: E402

from ratchet_tx.commands import CloseConnection, SendMessage  # noqa: E402
from ratchet_tx.interfaces import IApplication  # noqa: E402

AGENT = "ratchet_tx"
#: The 9.* cases send messages of up to 16 MiB.
MAX_MESSAGE_SIZE = 16 * 1024 * 1024 + 1024
#: How long one case may take, the slowest 9.* included.
CASE_TIMEOUT = 120.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-x", "--exclude", default="", help="case patterns to exclude")
    parser.add_argument("--cases", default="*", help="case patterns to run (default: all)")
    parser.add_argument("--hybi10", action="store_true", help="speak HyBi-10 (version 8)")
    parser.add_argument("-o", "--out", help="report directory (default: a temp dir)")
    parser.add_argument("--agent", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    version = "hybi-10" if args.hybi10 else "rfc6455"
    if args.agent:
        return runAgent(os.environ["AB_URL"], os.environ["AB_AGENT"], version)

    runner = Path(os.environ.get("AUTOBAHN_DIR", REPO.parent / "shared" / "autobahn"))
    if not (runner / "serve.sh").exists():
        print(f"autobahn: no runner at {runner} (set AUTOBAHN_DIR)", file=sys.stderr)
        return 2
    subprocess.run(["bash", str(runner / "setup.sh")], check=True)
    out = Path(args.out or tempfile.mkdtemp(prefix="ratchet-autobahn-client-"))
    command = ["bash", str(runner / "serve.sh"), "-o", str(out), "-a", AGENT]
    if args.exclude:
        command += ["-x", args.exclude]
    command += [args.cases, "--", sys.executable, str(Path(__file__).resolve()), "--agent"]
    if args.hybi10:
        command.append("--hybi10")
    subprocess.run(command, check=False)
    return judge(out / "reports" / "index.json")


def runAgent(url: str, agent: str, version: str) -> int:
    """
    Be the suite's test agent: every case the server has, then the report.

    @return: the exit status: 0 when every case ran to its close.
    """
    from twisted.internet import reactor, task

    return task.react(lambda r: _agent(r, url, agent, version), [], reactor)


async def _agent(reactor: Any, url: str, agent: str, version: str) -> None:
    from twisted.internet.defer import Deferred

    from ratchet_tx.client import connect

    def session(path: str, app: Any) -> Deferred[None]:
        """Connect C{app} to C{path}; fires when the connection is gone."""
        closed: Deferred[None] = Deferred()
        app.closed = closed
        opened = connect(
            reactor,
            url + path,
            app,
            version=version,
            maxMessageSize=MAX_MESSAGE_SIZE,
            maxFrameSize=MAX_MESSAGE_SIZE,
        )

        def refused(failure: Any) -> None:
            print(f"{path}: {failure.getErrorMessage()}", file=sys.stderr)
            if not closed.called:
                closed.callback(None)

        opened.addErrback(refused)
        return closed.addTimeout(CASE_TIMEOUT, reactor)

    counter = _Echo(echo=False)
    await session("/getCaseCount", counter)
    count = int(counter.received[0])
    for case in range(1, count + 1):
        await session(f"/runCase?case={case}&agent={agent}", _Echo())
    await session(f"/updateReports?agent={agent}", _Echo(echo=False))
    print(f"ran {count} cases", file=sys.stderr)


@implementer(IApplication)
class _Echo:
    """Send every message back (or keep it), and say when the connection is gone."""

    closed: Any

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.received: list[str | bytes] = []

    def onOpen(self, conn: Any) -> None:
        pass

    def onMessage(self, conn: Any, message: str | bytes) -> Any:
        if self.echo:
            return SendMessage(conn, message)
        self.received.append(message)
        return None

    def onClose(self, conn: Any) -> None:
        if not self.closed.called:
            self.closed.callback(None)

    def onError(self, conn: Any, failure: Any) -> Any:
        return CloseConnection(conn)


if __name__ == "__main__":
    sys.exit(main())
