#!/usr/bin/env python3
"""
Run the Autobahn|TestSuite against ``twistd ratchet`` and judge it strictly.

Starts ``twistd -n ratchet --app ratchet_tx.examples.echo:Echo`` on a free
loopback port (with the message limit raised to 16 MiB for the 9.x cases),
runs the suite's fuzzing client through the workspace's ``shared/autobahn``
runner, stops the server, and exits 0 only if every case is OK or
INFORMATIONAL with close behaviour OK (no NON-STRICT, FAILED, UNIMPLEMENTED).

Examples::

    scripts/autobahn.py --fast                 # without 9.*, 12.*, 13.* (about 15 s)
    scripts/autobahn.py -x '12.*,13.*'         # the full suite but compression
    scripts/autobahn.py --hybi10 -x '12.*,13.*'  # the same, speaking HyBi-10

The runner lives outside this project (``$AUTOBAHN_DIR``, default
``../shared/autobahn`` beside the checkout) and needs root.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STRICT_BEHAVIOURS = {"OK", "INFORMATIONAL"}
FAST_EXCLUDES = "9.*,12.*,13.*"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help=f"exclude {FAST_EXCLUDES}")
    parser.add_argument("-x", "--exclude", default="", help="case patterns to exclude")
    parser.add_argument("--cases", default="*", help="case patterns to run (default: all)")
    parser.add_argument("--hybi10", action="store_true", help="speak HyBi-10 (version 8)")
    parser.add_argument("-o", "--out", help="report directory (default: a temp dir)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="extra argument for twistd ratchet (repeatable)",
    )
    args = parser.parse_args()

    runner = Path(os.environ.get("AUTOBAHN_DIR", REPO.parent / "shared" / "autobahn"))
    if not (runner / "run.sh").exists():
        print(f"autobahn: no runner at {runner} (set AUTOBAHN_DIR)", file=sys.stderr)
        return 2
    subprocess.run(["bash", str(runner / "setup.sh")], check=True)

    excludes = ",".join(p for p in (args.exclude, FAST_EXCLUDES if args.fast else "") if p)
    out = Path(args.out or tempfile.mkdtemp(prefix="ratchet-autobahn-"))
    server, port, log = startServer(args.server_arg, out)
    try:
        env = dict(os.environ)
        if args.hybi10:
            env["AB_OPTIONS"] = json.dumps({"version": 10})
        command = ["bash", str(runner / "run.sh"), "-o", str(out), "-a", "ratchet_tx"]
        if excludes:
            command += ["-x", excludes]
        command += [str(port), args.cases]
        subprocess.run(command, env=env, check=False)
    finally:
        stopServer(server, log)
    if args.markdown:
        subprocess.run(
            [sys.executable, str(runner / "summarize.py"), str(out / "reports"), "--markdown"],
            check=False,
        )
    return judge(out / "reports" / "index.json")


def startServer(extra: list[str], out: Path) -> tuple[subprocess.Popen, int, Path]:
    twistd = Path(sys.executable).with_name("twistd")
    log = out / "twistd.log"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    )
    server = subprocess.Popen(
        [
            str(twistd),
            "-n",
            "--pidfile=",
            "ratchet",
            "--app",
            "ratchet_tx.examples.echo:Echo",
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--max-message-size",
            "16M",
            *extra,
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=out,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"starting on (\d+)", log.read_text(errors="replace"))
        if found:
            return server, int(found.group(1)), log
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    raise SystemExit(f"autobahn: twistd ratchet did not start:\n{log.read_text()}")


def stopServer(server: subprocess.Popen, log: Path) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        print("autobahn: twistd did not stop on SIGTERM", file=sys.stderr)


def judge(index: Path) -> int:
    """Exit status: 0 when every case is strictly OK, 1 otherwise."""
    if not index.exists():
        print("autobahn: no report", file=sys.stderr)
        return 2
    results = json.loads(index.read_text())
    bad = []
    total = 0
    for agent in results.values():
        for case, result in agent.items():
            total += 1
            if (
                result["behavior"] not in STRICT_BEHAVIOURS
                or result["behaviorClose"] not in STRICT_BEHAVIOURS
            ):
                bad.append(f"{case}: {result['behavior']} / close {result['behaviorClose']}")
    for line in sorted(bad):
        print("not strict:", line)
    print(f"autobahn: {total - len(bad)} of {total} cases strict")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
