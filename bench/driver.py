#!/usr/bin/env python3
"""
Side-by-side benchmark of ratchet_tx and its peers (run it with bench/run).

For every scenario, every repeat, every server in turn (A B C ... A B C ...),
the driver starts the server on a free loopback port, pinned to CPU 0, runs
the C load generator (bench/loadgen.c) pinned to CPU 1, reads the server's
CPU time (/proc/PID/stat) at the start and end of the measured window and
its RSS (/proc/PID/status) around the idle scenario, then stops the server.
It prints, per scenario, the median of the repeats with min-max, and each
server's ratio to Autobahn measured in the same repeat (median of the
per-repeat ratios), and writes everything as JSON into bench/results/.

The sessions scenario runs ratchet_tx with a session store (`twistd ratchet
--session ... --session-required`) against a redis-server of its own, which the
driver starts for each run on a free loopback port (pinned to the generator's
CPU), fills with SESSIONS sessions in the store's format, and stops; the
generator sends one of those session ids with every handshake.

Nothing here talks to anything but 127.0.0.0/8; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
ENV = BENCH / ".env"
PYTHON = ENV / "bin" / "python"
LOADGEN = ENV / "bin" / "loadgen"
RESULTS = BENCH / "results"

SERVER_CPU = 0
GENERATOR_CPU = 1
BASELINE = "autobahn"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Why a server has no figure in a scenario that needs permessage-deflate.
NO_DEFLATE = "does not speak permessage-deflate"
# Other processes using more than this share of a CPU during a run disturb it.
OTHER_LOAD_WARNING = 0.05
# The driver waits at most --quiet-wait before a run, and at most this many
# times --quiet-wait in all, for other processes to leave the CPUs alone.
QUIET_BUDGET_RUNS = 10


# --------------------------------------------------------------------------
# Session stores (the sessions scenario)

# Different sessions in Redis; the generator sends their ids in turn.
SESSIONS = 10_000
# Every id is this and 8 digits: 26 characters, as PHP's default ids.
SESSION_ID_PREFIX = "bench" + "0" * 13
# Seconds the seeded sessions live (PHP's session.gc_maxlifetime default).
SESSION_TTL = 1440
# The cookie the generator sends to servers without a store.
DEFAULT_COOKIE = "PHPSESSID"
# Why a server has no figure in a scenario it does not take part in.
NO_SESSIONS = "not a ratchet_tx server: no session layer to compare"


def session_id(n: int) -> str:
    return f"{SESSION_ID_PREFIX}{n:08d}"


def _login(n: int) -> dict:
    # What a web site's login page keeps in the session; bench.apps'
    # SessionEcho checks that "name" belongs to the cookie's id.
    return {
        "name": f"user-{n:08d}",
        "user_id": n,
        "login_time": 1764672000 + n,
        "csrf_token": f"{n * 2654435761 % 2**64:016x}" * 4,
        "roles": ["chat", "member"],
    }


def _php_value(value) -> str:
    # PHP's serialize() of a string (length in bytes), an int, or a list.
    if isinstance(value, str):
        return f's:{len(value.encode())}:"{value}";'
    if isinstance(value, int):
        return f"i:{value};"
    items = "".join(f"i:{i};{_php_value(v)}" for i, v in enumerate(value))
    return f"a:{len(value)}:{{{items}}}"


def php_session(n: int) -> bytes:
    """session_encode() of the login session, session.serialize_handler=php:
    name|serialize(value) for each variable, back to back."""
    return "".join(f"{k}|{_php_value(v)}" for k, v in _login(n).items()).encode()


def json_session(n: int) -> bytes:
    return json.dumps(_login(n), separators=(",", ":")).encode()


@dataclass
class SessionStore:
    name: str
    spec: str  # --session, with {port}
    cookie: str  # the cookie the store reads
    key: str  # the Redis key of a session, with {sid}
    encode: object  # n -> the bytes stored under session n's key

    def twistd_args(self, redis_port: int) -> list[str]:
        return ["--session", self.spec.format(port=redis_port), "--session-required"]


STORES = {
    "php-redis": SessionStore(
        "php-redis",
        "php+redis://127.0.0.1:{port}/0",
        "PHPSESSID",
        "PHPREDIS_SESSION:{sid}",
        php_session,
    ),
    "json-redis": SessionStore(
        "json-redis",
        "json+redis://127.0.0.1:{port}/0?prefix=bench:session:&cookieName=sid",
        "sid",
        "bench:session:{sid}",
        json_session,
    ),
}


# --------------------------------------------------------------------------
# Servers


@dataclass
class ServerSpec:
    name: str
    description: str
    # (port, scenario) -> list[str]; with redis, REDIS_URL in it (and in env's
    # values) stands for the URL of the run's redis-server.
    argv: object
    env: object = field(default_factory=dict)  # a dict, or a function returning one
    raw: bool = False  # raw TCP: the generator sends bytes, no WebSocket
    deflate: bool = True  # speaks permessage-deflate (else n/a in scenarios that need it)
    ratchet: bool = False  # ratchet_tx itself (--baseline runs it again at another revision)
    store: SessionStore | None = None  # with this session store (the sessions scenario's)
    processes: int = 1  # server processes, each on its own port
    redis: bool = False  # needs a redis-server (started by the driver for each run)
    only: tuple = ()  # the scenarios it takes part in (empty: all)


#: Stands for the run's Redis URL in a ServerSpec's argv and env.
REDIS_URL = "{redis}"


# ratchet_tx runs from a copy of the work tree taken when the driver starts
# (see snapshot_ratchet): the repository may change while the benchmark runs.
ratchet_root = REPO


#: The benchmark's ratchet_tx applications, taken into every snapshot.
APP_MODULES = ("apps.py", "hubapps.py")


def snapshot_ratchet(into: Path) -> None:
    """Copy ratchet_tx, its twistd plugin and bench's application modules
    (APP_MODULES) into a folder that then stands in for the repository on
    the servers' PYTHONPATH."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "dropin.cache")
    shutil.copytree(REPO / "ratchet_tx", into / "ratchet_tx", ignore=skip)
    (into / "twisted" / "plugins").mkdir(parents=True)
    shutil.copy2(REPO / "twisted" / "plugins" / "ratchet_plugin.py", into / "twisted" / "plugins")
    (into / "bench").mkdir()
    for name in APP_MODULES:
        shutil.copy2(BENCH / name, into / "bench")
    build_speedups(into / "ratchet_tx" / "websocket" / "codecs")
    global ratchet_root
    ratchet_root = into


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def resolve_revision(rev: str) -> str:
    """The short commit of C{rev}; exits with git's message if it names none."""
    try:
        return _git("rev-parse", "--short", "--verify", f"{rev}^{{commit}}")
    except subprocess.CalledProcessError as e:
        sys.exit(f"--baseline {rev}: not a commit here: {e.stderr.strip()}")


def snapshot_revision(commit: str, into: Path) -> None:
    """
    ratchet_tx as committed at C{commit}, laid out as snapshot_ratchet lays
    out the work tree (git archive of the same paths) and built the same way.
    A revision without one of the application modules (APP_MODULES) gets
    today's.
    """
    paths = ["ratchet_tx", "twisted/plugins/ratchet_plugin.py"]
    missing = []
    for name in APP_MODULES:
        has = subprocess.run(
            ["git", "-C", str(REPO), "cat-file", "-e", f"{commit}:bench/{name}"],
            capture_output=True,
        ).returncode == 0
        if has:
            paths.append(f"bench/{name}")
        else:
            missing.append(name)
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, "--", *paths],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "bench").mkdir(exist_ok=True)
    for name in missing:
        shutil.copy2(BENCH / name, into / "bench")
    build_speedups(into / "ratchet_tx" / "websocket" / "codecs")


def build_speedups(codecs: Path) -> None:
    """
    Compile ratchet_tx's optional C speedups in place, for the benchmark's
    Python, as `pip install` does where a compiler is at hand (users get
    them so); without a compiler ratchet_tx runs its pure-Python code.
    """
    include, suffix = subprocess.run(
        [
            str(PYTHON),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['include']);"
            " print(sysconfig.get_config_var('EXT_SUFFIX'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    source = codecs / "_speedups.c"
    if not source.exists():
        return  # a revision from before the C speedups
    built = subprocess.run(
        ["gcc", "-O2", "-shared", "-fPIC", f"-I{include}", "-o", str(codecs / f"_speedups{suffix}")]
        + [str(source)],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        print(f"ratchet_tx's C speedups did not build; pure Python:\n{built.stderr}", flush=True)


def _broadcast(scenario: str) -> bool:
    return SCENARIO_BY_NAME[scenario].mode == "broadcast"


def _deflate(scenario: str) -> list[str]:
    """The flag that turns a peer's permessage-deflate on, where the
    scenario needs it (ratchet_tx agrees to it by default)."""
    return ["--deflate"] if SCENARIO_BY_NAME[scenario].deflate else []


def _ratchet(port: int, scenario: str, app: str | None = None) -> list[str]:
    if app is None:
        app = "bench.apps:Broadcast" if _broadcast(scenario) else "ratchet_tx.examples.echo:Echo"
    return [
        str(PYTHON),
        str(BENCH / "servers" / "ratchet_twistd.py"),
        "-n",
        "--pidfile=",
        "ratchet",
        "--app",
        app,
        "--listen",
        f"tcp:{port}:interface=127.0.0.1",
        "--max-message-size",
        "64M",
    ]


def _daphne(port: int) -> list[str]:
    """daphne serving bench/servers/channels_site.py (settings from the environment)."""
    return [
        str(PYTHON),
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "-v",
        "1",
        "channels_site:application",
    ]


def _script(name: str, deflate: bool = True):
    def argv(port: int, scenario: str) -> list[str]:
        extra = _deflate(scenario) if deflate else []
        return [str(PYTHON), str(BENCH / "servers" / name), "--port", str(port)] + extra

    return argv


SERVERS = [
    ServerSpec(
        "ratchet_tx",
        "twistd -n ratchet (examples.echo:Echo; bench.apps:Broadcast for broadcast, chat), "
        "tcp: on ratchet_tx.transport where it has one",
        _ratchet,
        env=lambda: {"PYTHONPATH": str(ratchet_root)},
        ratchet=True,
    ),
    *(
        ServerSpec(
            f"ratchet_tx+{store.name}",
            f"ratchet_tx with --session {store.spec} --session-required "
            "(bench.apps:SessionEcho) against a redis-server of its own",
            partial(_ratchet, app="bench.apps:SessionEcho"),
            env=lambda: {"PYTHONPATH": str(ratchet_root)},
            ratchet=True,
            store=store,
            redis=True,
            only=("sessions",),
        )
        for store in STORES.values()
    ),
    ServerSpec(
        "autobahn",
        "Autobahn|Python on Twisted, default install (its native NVX accelerators on)",
        _script("autobahn_server.py"),
    ),
    ServerSpec(
        "autobahn-pure",
        "Autobahn|Python on Twisted with AUTOBAHN_USE_NVX=0 (pure Python)",
        _script("autobahn_server.py"),
        env={"AUTOBAHN_USE_NVX": "0"},
    ),
    ServerSpec("websockets", "websockets, asyncio implementation", _script("websockets_server.py")),
    ServerSpec(
        "picows", "picows on asyncio", _script("picows_server.py", deflate=False), deflate=False
    ),
    ServerSpec(
        "node-ws",
        "node + ws",
        lambda port, scenario: (
            ["node", str(BENCH / "servers" / "node_ws.js"), "--port", str(port)]
            + _deflate(scenario)
        ),
    ),
    ServerSpec(
        "raw-twisted",
        "raw Twisted TCP echo/broadcast, no framing: the stack's ceiling",
        _script("raw_twisted.py", deflate=False),
        raw=True,
        deflate=False,
    ),
    ServerSpec(
        "raw-writethrough",
        "raw-twisted on ratchet_tx's write-through TCP transport (ratchet_tx.transport)",
        lambda port, scenario: (
            _script("raw_twisted.py", deflate=False)(port, scenario) + ["--write-through"]
        ),
        env=lambda: {"PYTHONPATH": str(ratchet_root)},
        raw=True,
        deflate=False,
    ),
    ServerSpec(
        "c-stub",
        "loadgen's own minimal C WebSocket server: the generator's ceiling, not a peer",
        lambda port, scenario: (
            [str(LOADGEN), "serve", "--port", str(port), "--timeout", "3600"] + _deflate(scenario)
        ),
    ),
]
# The fanout scenario's servers: across two processes (and one redis-server),
# or all receivers in one process for reference.
FANOUT_APP = "bench.hubapps:Fanout"
SERVERS += [
    ServerSpec(
        "ratchet_tx-1proc",
        "twistd -n ratchet --app bench.hubapps:Fanout, one process, the local hub "
        "(Subscribe / Publish): the single-process reference",
        lambda port, scenario: _ratchet(port, scenario, FANOUT_APP),
        env=lambda: {"PYTHONPATH": str(ratchet_root)},
        ratchet=True,
        only=("fanout",),
    ),
    ServerSpec(
        "ratchet_tx-redis",
        "2 × twistd -n ratchet --app bench.hubapps:Fanout --hub redis://...: RedisHub, "
        "one publish script per message, each process fans out to its own receivers",
        lambda port, scenario: _ratchet(port, scenario, FANOUT_APP) + ["--hub", REDIS_URL],
        env=lambda: {"PYTHONPATH": str(ratchet_root)},
        ratchet=True,
        processes=2,
        redis=True,
        only=("fanout",),
    ),
    ServerSpec(
        "websockets-redis",
        "2 × websockets + redis-py asyncio pub/sub (websockets' docs): PUBLISH per "
        "message, each process broadcast()s what its subscription reads",
        lambda port, scenario: (
            _script("websockets_redis.py", deflate=False)(port, scenario) + ["--redis", REDIS_URL]
        ),
        processes=2,
        redis=True,
        only=("fanout",),
    ),
    ServerSpec(
        "channels-daphne",
        "2 × daphne, Django Channels, channels_redis RedisPubSubChannelLayer: "
        "group_send to one group of every consumer",
        lambda port, scenario: _daphne(port),
        env={
            "BENCH_REDIS_URL": REDIS_URL,
            "BENCH_CHANNEL_LAYER": "pubsub",
            "PYTHONPATH": str(BENCH / "servers"),
        },
        processes=2,
        redis=True,
        only=("fanout",),
    ),
    ServerSpec(
        "channels-daphne-core",
        "channels-daphne with channels_redis RedisChannelLayer (Channels' usual layer)",
        lambda port, scenario: _daphne(port),
        env={
            "BENCH_REDIS_URL": REDIS_URL,
            "BENCH_CHANNEL_LAYER": "core",
            "PYTHONPATH": str(BENCH / "servers"),
        },
        processes=2,
        redis=True,
        only=("fanout",),
    ),
]
SERVER_NAMES = [s.name for s in SERVERS]


#: The ratchet_tx servers (those that --baseline runs again at another revision).
RATCHET_SERVERS = tuple(s.name for s in SERVERS if s.ratchet)


def baseline_server(rev: str, commit: str, root: Path, like: str = "ratchet_tx") -> ServerSpec:
    """The ratchet_tx server C{like} again, from the snapshot of another revision."""
    spec = next(s for s in SERVERS if s.name == like)
    return dataclasses.replace(
        spec,
        name=f"{like}@{commit}",
        description=f"{like} as committed at {rev} ({commit}), run as {like} is",
        env={"PYTHONPATH": str(root)},
    )


# --------------------------------------------------------------------------
# Scenarios


@dataclass
class Scenario:
    name: str
    title: str
    mode: str
    args: list
    metric: str  # key in the run's record
    unit: str
    higher_is_better: bool = True
    deflate: bool = False  # permessage-deflate: servers that lack it are n/a
    sessions: bool = False  # session cookies; ratchet_tx servers only
    ports: int = 1  # broadcast: the receivers' ports (a one-process server: its port again)
    reference: str | None = None  # the × column's server here, if it ran (else the run's)
    extra_time: float = 0.0  # seconds more for the generator (many connections to open)
    # A client scenario: the clients of CLIENTS run this load ("echo" or
    # "large", as the generator names it) against one fixed server.
    client_load: str = ""


_BROADCAST = Scenario(
    name="broadcast",
    title="broadcast: 64-byte text, 1 sender to 1000 receivers, 16 in flight",
    mode="broadcast",
    args=["--conns", "1000", "--size", "64", "--window", "16"],
    metric="deliveries_per_s",
    unit="deliveries/s",
)


SCENARIOS = [
    Scenario(
        name="echo",
        title="small echo: 64 connections, 32-byte text, 16 in flight each",
        mode="echo",
        args=["--conns", "64", "--size", "32", "--inflight", "16"],
        metric="messages_per_s",
        unit="msg/s",
    ),
    Scenario(
        name="large",
        title="large echo: 1 MiB binary, 4 connections, 1 in flight each",
        mode="large",
        # --quickack: see "Caveats" in README.md (delayed ACKs).
        args=["--conns", "4", "--size", str(1 << 20), "--inflight", "1", "--quickack"],
        metric="mib_per_s",
        unit="MiB/s",
    ),
    _BROADCAST,
    dataclasses.replace(
        _BROADCAST,
        name="latency",
        title="broadcast latency: 64-byte text, 1 sender to 1000 receivers, 1 in flight: "
        "send → last receiver, p50",
        args=["--conns", "1000", "--size", "64", "--window", "1"],
        metric="latency_p50_ms",
        unit="ms",
        higher_is_better=False,
    ),
    Scenario(
        name="chat",
        title="chat: JSON text of 243 bytes on average, permessage-deflate, "
        "1 sender to 200 receivers, 16 in flight",
        mode="broadcast",
        args=["--conns", "200", "--chat", "--deflate", "--window", "16"],
        metric="deliveries_per_s",
        unit="deliveries/s",
        deflate=True,
    ),
    Scenario(
        name="fanout",
        title="fanout: 64-byte text, 1 sender to 2000 receivers on 2 server ports "
        "(2 processes, or 1 holding all), 16 in flight",
        mode="broadcast",
        args=["--conns", "2000", "--size", "64", "--window", "16"],
        metric="deliveries_per_s",
        unit="deliveries/s",
        ports=2,
        reference="ratchet_tx-1proc",
    ),
    Scenario(
        name="idle",
        title="idle: 10 000 open connections, server memory",
        mode="idle",
        args=["--conns", "10000", "--hold", "60"],
        metric="kib_per_connection",
        unit="KiB/conn",
        higher_is_better=False,
    ),
    Scenario(
        name="handshakes",
        title="handshakes: open, handshake, close; 32 at a time",
        mode="handshakes",
        args=["--concurrency", "32"],
        metric="handshakes_per_s",
        unit="handshakes/s",
    ),
    Scenario(
        name="client",
        title="client: one client process, 64 connections, 32-byte text, 16 in flight each, "
        "against loadgen serve",
        mode="client",
        args=["--conns", "64", "--size", "32", "--inflight", "16"],
        metric="messages_per_s",
        unit="msg/s",
        client_load="echo",
    ),
    Scenario(
        name="client-large",
        title="client-large: one client process, 4 connections, 1 MiB binary, 1 in flight "
        "each, against loadgen serve",
        mode="client",
        args=["--conns", "4", "--size", str(1 << 20), "--inflight", "1"],
        metric="mib_per_s",
        unit="MiB/s",
        client_load="large",
    ),
    Scenario(
        name="sessions",
        title=f"sessions: handshakes, 32 at a time, each with one of {SESSIONS:,} session "
        "cookies in turn; ratchet_tx without a session layer, and with a Redis store",
        mode="handshakes",
        args=["--concurrency", "32", "--sessions", str(SESSIONS)],
        metric="handshakes_per_s",
        unit="handshakes/s",
        sessions=True,
        reference="ratchet_tx",
    ),
]
SCENARIO_NAMES = [s.name for s in SCENARIOS]
SCENARIO_BY_NAME = {s.name: s for s in SCENARIOS}

# The server's throughput per second of its own CPU time: less sensitive than
# throughput to the wake-up latencies of a small virtual machine.
PER_CPU = {
    "echo": ("messages", "msg/CPU-s"),
    "large": ("mib", "MiB/CPU-s"),
    "broadcast": ("deliveries", "deliveries/CPU-s"),
    "chat": ("deliveries", "deliveries/CPU-s"),
    "fanout": ("deliveries", "deliveries/CPU-s"),
    "handshakes": ("handshakes", "handshakes/CPU-s"),
    "sessions": ("handshakes", "handshakes/CPU-s"),
    # Client scenarios: per second of the client's own CPU time.
    "client": ("messages", "msg/CPU-s"),
    "client-large": ("mib", "MiB/CPU-s"),
}


# --------------------------------------------------------------------------
# Clients (the client scenarios)
#
# One client process at a time, pinned to CPU 0 (where the servers run in
# the other scenarios: the process measured), against one fixed server,
# loadgen's C stub (`loadgen serve`), pinned to CPU 1.  Each Python client
# (clients/*.py) verifies every echo and reports its own CPU time.

CLIENT_CPU = SERVER_CPU
FIXED_SERVER_CPU = GENERATOR_CPU
CLIENT_BASELINE = "websockets"


@dataclass
class ClientSpec:
    name: str
    description: str
    argv: object  # (port, scenario) -> list[str]
    env: object = field(default_factory=dict)  # a dict, or a function returning one


def _client(name: str):
    def argv(port: int, scenario: str) -> list[str]:
        sc = SCENARIO_BY_NAME[scenario]
        binary = ["--binary"] if sc.client_load == "large" else []
        return [str(PYTHON), str(BENCH / "clients" / name), "--port", str(port)] + binary

    return argv


def _loadgenClient(port: int, scenario: str) -> list[str]:
    return [str(LOADGEN), SCENARIO_BY_NAME[scenario].client_load, "--port", str(port)]


CLIENTS = [
    ClientSpec(
        "ratchet_tx",
        "ratchet_tx.client.connect on Twisted, returning SendMessage (clients/ratchet_client.py)",
        _client("ratchet_client.py"),
        env=lambda: {"PYTHONPATH": str(ratchet_root)},
    ),
    ClientSpec(
        "websockets",
        "websockets.asyncio.client.connect, recv()/send() (clients/websockets_client.py)",
        _client("websockets_client.py"),
    ),
    ClientSpec(
        "autobahn",
        "Autobahn|Python's WebSocketClientProtocol on Twisted, NVX on (clients/autobahn_client.py)",
        _client("autobahn_client.py"),
    ),
    ClientSpec(
        "picows",
        "picows ws_connect and WSListener on asyncio (clients/picows_client.py)",
        _client("picows_client.py"),
    ),
    ClientSpec(
        "c-loadgen",
        "the C load generator as the client: not a peer, the fixed server's ceiling",
        _loadgenClient,
    ),
]
CLIENT_NAMES = [c.name for c in CLIENTS]


def baseline_client(rev: str, commit: str, root: Path) -> ClientSpec:
    """The ratchet_tx client again, from the snapshot of another revision."""
    return ClientSpec(
        f"ratchet_tx@{commit}",
        f"ratchet_tx's client as committed at {rev} ({commit}), run as ratchet_tx's is",
        _client("ratchet_client.py"),
        env={"PYTHONPATH": str(root)},
    )


# --------------------------------------------------------------------------
# Processes


def _preexec(cpu: int | None):
    def setup():
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        os.setpgrp()

    return setup


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc: subprocess.Popen, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server not listening on {port} after {timeout} s")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def others_cpu_ticks(mine: set[int]) -> dict[int, int]:
    """CPU time (ticks) used so far by every process but ours, by pid."""
    ticks = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile
    return ticks


def others_cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds other processes used between two samples (those that
    exited meanwhile are not counted)."""
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / CLK_TCK


def wait_quiet(limit: float) -> float:
    """Wait up to limit seconds until other processes use less than
    OTHER_LOAD_WARNING of a CPU; return the load last seen."""
    deadline = time.monotonic() + limit
    mine = {os.getpid()}
    while True:
        before, t0 = others_cpu_ticks(mine), time.monotonic()
        time.sleep(0.25)
        load = others_cpu_seconds(before, others_cpu_ticks(mine)) / (time.monotonic() - t0)
        if load < OTHER_LOAD_WARNING or time.monotonic() >= deadline:
            return load
        time.sleep(1.0)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def stop(proc: subprocess.Popen, grace: float = 3.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def lines(proc: subprocess.Popen, deadline: float):
    """Yield the generator's stdout lines until EOF, or raise at deadline."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("load generator did not finish in time")
            if not sel.select(min(left, 1.0)):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                if buf:
                    yield buf.decode()
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                yield line.decode()
    finally:
        sel.close()


# --------------------------------------------------------------------------
# redis-server, for the sessions scenario


def _resp(*args) -> bytes:
    """One command in RESP2."""
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"".join(
        [b"*%d\r\n" % len(parts)] + [b"$%d\r\n%s\r\n" % (len(p), p) for p in parts]
    )


class RedisProcess:
    """A redis-server of one run: a free loopback port, no persistence, in a
    temporary directory; stopped (and its directory removed) by stop()."""

    def __init__(self, cpu: int | None, timeout: float = 15.0) -> None:
        executable = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.access(executable, os.X_OK):
            raise RuntimeError(
                "the sessions scenario needs redis-server (apt-get install redis-server)"
            )
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.log = open(Path(self.dir.name) / "redis.log", "wb")
        self.proc = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir.name, "--daemonize", "no"],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_preexec(cpu),
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.call("PING") == b"PONG":
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def _connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def call(self, *args) -> bytes | int:
        """One command on a connection of its own; its reply (simple, bulk
        or integer; an error raises)."""
        with self._connect() as sock:
            sock.sendall(_resp(*args))
            data = b""
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise OSError("redis-server closed the connection")
                data += chunk
                head, sep, rest = data.partition(b"\r\n")
                if not sep:
                    continue
                kind, value = head[:1], head[1:]
                if kind == b"-":
                    raise RuntimeError(f"redis: {value.decode()}")
                if kind == b"+":
                    return value
                if kind == b":":
                    return int(value)
                if kind == b"$" and len(rest) >= int(value) + 2:
                    return rest[: int(value)]

    def seed(self, store: SessionStore, count: int) -> None:
        """Write sessions 0..count-1 as the store's framework does (SET
        with a TTL), pipelined."""
        commands = b"".join(
            _resp("SET", store.key.format(sid=session_id(n)), store.encode(n), "EX", SESSION_TTL)
            for n in range(count)
        )
        expected = b"+OK\r\n" * count
        with self._connect() as sock:
            sock.sendall(commands)
            got = b""
            while len(got) < len(expected):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise RuntimeError("redis-server closed the connection while seeding")
                got += chunk
        if got != expected:
            raise RuntimeError(f"seeding failed: {got[:200]!r}")

    def stats(self) -> dict[str, int]:
        """INFO's integer fields (keyspace_hits, connected_clients, ...)."""
        info = self.call("INFO")
        fields = {}
        for line in info.decode().splitlines():
            key, sep, value = line.partition(":")
            if sep and value.strip().isdigit():
                fields[key] = int(value)
        return fields

    def stop(self) -> None:
        stop(self.proc)
        self.log.close()
        self.dir.cleanup()


# --------------------------------------------------------------------------
# One run


def unavailable(server: ServerSpec, scenario: Scenario) -> str | None:
    """Why C{server} has no figure in C{scenario} (n/a, not a failure), if it has none."""
    if scenario.deflate and not server.deflate:
        return NO_DEFLATE
    if scenario.sessions and not server.ratchet:
        return NO_SESSIONS
    if server.only and scenario.name not in server.only:
        return f"runs in {', '.join(server.only)} only"
    return None


def run_once(server: ServerSpec, scenario: Scenario, options, logdir: Path, tag: str) -> dict:
    log_path = logdir / f"{tag}.log"
    record = {"scenario": scenario.name, "server": server.name, "ok": False, "error": ""}
    with open(log_path, "wb") as log, tempfile.TemporaryDirectory() as cwd:
        procs: list[subprocess.Popen] = []
        redis = None
        gen = None
        try:
            url = ""
            if server.redis:
                # Across processes (fanout) the redis-server is part of the
                # server: on its CPU, counted in its CPU. A session store is a
                # database outside it: on the generator's CPU, counted apart.
                cpu = GENERATOR_CPU if server.store is not None else SERVER_CPU
                redis = RedisProcess(cpu if options.pin else None)
                if server.store is not None:
                    redis.seed(server.store, SESSIONS)
                url = f"redis://127.0.0.1:{redis.port}/0"
            env = dict(os.environ)
            for key, value in (server.env() if callable(server.env) else server.env).items():
                env[key] = value.replace(REDIS_URL, url)
            ports = [free_port() for _ in range(server.processes)]
            for port in ports:
                procs.append(
                    subprocess.Popen(
                        [a.replace(REDIS_URL, url) for a in server.argv(port, scenario.name)]
                        + (server.store.twistd_args(redis.port) if server.store and redis else []),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        cwd=cwd,
                        env=env,
                        preexec_fn=_preexec(SERVER_CPU if options.pin else None),
                    )
                )
            for proc, port in zip(procs, ports, strict=True):
                wait_listening(proc, port, 30)
            time.sleep(0.3)  # let it finish starting up before the baseline
            proc = procs[0]
            # The receivers' ports: one per process, or the one port again.
            targets = [ports[i % len(ports)] for i in range(max(scenario.ports, len(ports)))]
            argv = [str(LOADGEN), scenario.mode, "--port", ",".join(map(str, targets))]
            argv += list(scenario.args)
            if server.raw:
                argv.append("--raw")
            if scenario.sessions:
                cookie = server.store.cookie if server.store else DEFAULT_COOKIE
                argv += ["--cookie", f"{cookie}={SESSION_ID_PREFIX}"]
            argv += ["--warmup", str(options.warmup), "--duration", str(options.duration)]
            argv += options.extra.get(scenario.name, [])
            bound = options.warmup + options.duration + 90 + scenario.extra_time
            argv += ["--timeout", str(bound)]
            rss_before = rss_kib(proc.pid)
            counted = redis is not None and server.store is None
            measured = [p.pid for p in procs] + ([redis.proc.pid] if counted else [])
            gen = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=_preexec(GENERATOR_CPU if options.pin else None),
            )
            cpu0 = cpu1 = t0 = t1 = None
            mine = {os.getpid(), gen.pid, *measured}
            if redis is not None:
                mine.add(redis.proc.pid)
            result = None
            for line in lines(gen, time.monotonic() + bound + 15):
                if line == "phase measure":
                    t0, cpu0 = time.monotonic(), [cpu_seconds(pid) for pid in measured]
                    others0 = others_cpu_ticks(mine)
                    if server.store is not None and redis is not None:
                        redis_cpu0 = cpu_seconds(redis.proc.pid)
                elif line == "phase end":
                    t1, cpu1 = time.monotonic(), [cpu_seconds(pid) for pid in measured]
                    others1 = others_cpu_ticks(mine)
                    if server.store is not None and redis is not None:
                        redis_cpu1 = cpu_seconds(redis.proc.pid)
                elif line.startswith("ready "):
                    time.sleep(1.0)  # let the server settle
                    rss_after = rss_kib(proc.pid)
                    opened = int(line.split()[1])
                    record["rss_before_kib"] = rss_before
                    record["rss_after_kib"] = rss_after
                    record["kib_per_connection"] = (rss_after - rss_before) / opened
                    gen.stdin.write(b"done\n")
                    gen.stdin.close()
                elif line.startswith("result "):
                    result = json.loads(line[len("result ") :])
            gen.wait(15)
            stderr = gen.stderr.read().decode(errors="replace").strip()
            if result is None:
                raise RuntimeError(f"no result from the load generator: {stderr[-300:]}")
            record["loadgen"] = result
            if not result["ok"]:
                raise RuntimeError(f"load generator: {result['error']}")
            bad = {k: result[k] for k in ("verify_errors", "protocol_errors") if result[k]}
            if bad:
                raise RuntimeError(f"wrong data from the server: {bad}")
            if result.get("refused"):
                raise RuntimeError(
                    f"{result['refused']} handshake(s) refused (first: {result['refusal']})"
                )
            if server.store is not None and redis is not None:
                # Every handshake looked its session up, over one connection.
                stats = redis.stats()
                record["redis_stats"] = {
                    k: stats.get(k)
                    for k in ("keyspace_hits", "keyspace_misses", "total_connections_received")
                }
                # This call's connection, and the server's store.
                record["redis_clients"] = stats.get("connected_clients", 0) - 1
                if stats.get("keyspace_misses"):
                    raise RuntimeError(f"{stats['keyspace_misses']} lookups found no session")
                hits = stats.get("keyspace_hits", 0)
                if hits < result["handshakes"]:
                    raise RuntimeError(f"{hits} lookups for {result['handshakes']} handshakes")
            for key in ("messages_per_s", "mib_per_s", "deliveries_per_s", "handshakes_per_s"):
                record[key] = result[key]
            record["generator_cpu"] = result["generator_cpu"]
            if scenario.mode == "broadcast":
                record["latency_ms"] = result["latency_ms"]
                record["latency_p50_ms"] = result["latency_ms"]["p50"]
            if scenario.deflate:
                # What the receivers got: payload bytes per message on the
                # wire and inflated, and the share that came compressed.
                for key in ("wire_bytes_per_message", "payload_bytes_per_message"):
                    record[key] = result[key]
                record["compression_ratio"] = result["compression_ratio"]
                received = result["received_messages"]
                record["compressed_share"] = (
                    result["compressed_messages"] / received if received else 0.0
                )
            if cpu0 is not None and cpu1 is not None and t1 > t0:
                # Every server process and the redis-server, added up.
                each = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
                used = sum(each)
                record["server_cpu"] = used / (t1 - t0)
                if len(each) > 1:
                    record["process_cpu"] = [u / (t1 - t0) for u in each]
                if counted:
                    record["redis_cpu"] = each[-1] / (t1 - t0)
                record["server_cpu_s"] = used
                if server.store is not None and redis is not None:
                    record["redis_cpu"] = (redis_cpu1 - redis_cpu0) / (t1 - t0)
                # CPU other processes used meanwhile, in CPUs: more than a few
                # percent disturbs the run.
                record["other_load"] = others_cpu_seconds(others0, others1) / (t1 - t0)
                if scenario.name in PER_CPU and used > 0:
                    key, _unit = PER_CPU[scenario.name]
                    amount = {
                        "messages": result["messages"],
                        "mib": result["bytes"] / 1048576,
                        "deliveries": result["deliveries"],
                        "handshakes": result["handshakes"],
                    }[key]
                    record["per_cpu_s"] = amount / used
            if scenario.ports > 1:
                # Verify the split: every process's receivers got the messages.
                record["port_split"] = result.get("ports", [])
                reached = {p["port"] for p in record["port_split"] if p["deliveries"]}
                if not set(ports) <= reached:
                    raise RuntimeError(f"no deliveries through ports {set(ports) - reached}")
            for p in procs + ([redis.proc] if redis is not None else []):
                if p.poll() is not None:
                    raise RuntimeError(f"server died (status {p.returncode})")
            if scenario.metric not in record:
                raise RuntimeError(f"no {scenario.metric}")
            record["value"] = record[scenario.metric]
            record["ok"] = True
        except Exception as e:  # a failed run is recorded, and the others go on
            record["error"] = str(e)
        finally:
            if gen is not None and gen.poll() is None:
                gen.kill()
                gen.wait()
            for p in procs:
                stop(p)
            if redis is not None:
                redis.stop()
    if not record["ok"]:
        tail = log_path.read_text(errors="replace")[-600:]
        record["server_log_tail"] = tail
    return record


def run_client(client: ClientSpec, scenario: Scenario, options, logdir: Path, tag: str) -> dict:
    """
    One run of a client scenario: the fixed server (loadgen serve) on CPU 1,
    C{client} on CPU 0 with the scenario's load; the client's own figures
    (messages, its CPU time) and the server's CPU share meanwhile.
    """
    port = free_port()
    log_path = logdir / f"{tag}.log"
    env = dict(os.environ, **(client.env() if callable(client.env) else client.env))
    record = {"scenario": scenario.name, "server": client.name, "ok": False, "error": ""}
    with open(log_path, "wb") as log, tempfile.TemporaryDirectory() as cwd:
        server = subprocess.Popen(
            [str(LOADGEN), "serve", "--port", str(port), "--timeout", "3600"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            preexec_fn=_preexec(FIXED_SERVER_CPU if options.pin else None),
        )
        proc = None
        try:
            wait_listening(server, port, 30)
            bound = options.warmup + options.duration + 90
            argv = client.argv(port, scenario.name) + list(scenario.args)
            argv += ["--warmup", str(options.warmup), "--duration", str(options.duration)]
            argv += options.extra.get(scenario.name, [])
            argv += ["--timeout", str(bound)]
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                preexec_fn=_preexec(CLIENT_CPU if options.pin else None),
            )
            cpu0 = cpu1 = t0 = t1 = None
            mine = {os.getpid(), proc.pid, server.pid}
            result = None
            for line in lines(proc, time.monotonic() + bound + 15):
                if line == "phase measure":
                    t0, cpu0 = time.monotonic(), cpu_seconds(server.pid)
                    others0 = others_cpu_ticks(mine)
                elif line == "phase end":
                    t1, cpu1 = time.monotonic(), cpu_seconds(server.pid)
                    others1 = others_cpu_ticks(mine)
                elif line.startswith("result "):
                    result = json.loads(line[len("result ") :])
                else:
                    log.write(f"client: {line}\n".encode())
            proc.wait(15)
            stderr = proc.stderr.read().decode(errors="replace").strip()
            if stderr:
                log.write(f"client's stderr:\n{stderr}\n".encode())
            if result is None:
                raise RuntimeError(f"no result from the client: {stderr[-300:]}")
            record["client_result"] = result
            if not result["ok"]:
                raise RuntimeError(f"client: {result['error']}")
            if result.get("verify_errors") or result.get("protocol_errors"):
                raise RuntimeError("wrong data from the server")
            if "client_cpu" not in result:
                # The C generator reports its CPU share as generator_cpu.
                result["client_cpu"] = result["generator_cpu"]
                result["client_cpu_s"] = result["generator_cpu"] * result["seconds"]
            for key in ("messages_per_s", "mib_per_s", "client_cpu"):
                record[key] = result[key]
            used = result["client_cpu_s"]
            if used > 0:
                key, _unit = PER_CPU[scenario.name]
                amount = result["messages"] if key == "messages" else result["bytes"] / 1048576
                record["per_cpu_s"] = amount / used
            if cpu0 is not None and cpu1 is not None and t1 > t0:
                record["server_cpu"] = (cpu1 - cpu0) / (t1 - t0)
                record["other_load"] = others_cpu_seconds(others0, others1) / (t1 - t0)
            if server.poll() is not None:
                raise RuntimeError(f"the fixed server died (status {server.returncode})")
            record["value"] = record[scenario.metric]
            record["ok"] = True
        except Exception as e:  # a failed run is recorded, and the others go on
            record["error"] = str(e)
        finally:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            stop(server)
    if not record["ok"]:
        record["server_log_tail"] = log_path.read_text(errors="replace")[-600:]
    return record


# --------------------------------------------------------------------------
# Summary


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit in ("KiB/conn",) or abs(value) < 10:
        text = f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    elif abs(value) >= 1e6:
        text = f"{value / 1e6:.2f}M"
    elif abs(value) >= 1e4:
        text = f"{value / 1e3:.1f}k"
    else:
        text = f"{value:.0f}"
    return text


def reference_of(sc: Scenario, reference: str | dict) -> str:
    """The server the scenario's × column compares with: the run's
    reference, or per scenario (a dict, as the JSON keeps it)."""
    if isinstance(reference, dict):
        return reference.get(sc.name, BASELINE)
    return reference


def summarize(
    runs: list[dict],
    servers: list[str],
    scenarios: list[Scenario],
    references: str | dict = BASELINE,
    clients: list[str] = (),
    client_reference: str = CLIENT_BASELINE,
) -> dict:
    """
    Per scenario and server (or client, in the client scenarios): the
    median, min and max over the repeats, and the median of the per-repeat
    ratios to C{reference} (C{client_reference}).
    """
    summary = {}
    for sc in scenarios:
        reference = reference_of(sc, references)
        per_server = {}
        by_repeat = {}
        names = clients if sc.client_load else servers
        ref = client_reference if sc.client_load else reference
        for r in runs:
            if r["scenario"] == sc.name and r["ok"]:
                by_repeat.setdefault(r["repeat"], {})[r["server"]] = r
        for name in names:
            mine = [r for r in runs if r["scenario"] == sc.name and r["server"] == name]
            if mine and all(r.get("skipped") for r in mine):
                per_server[name] = {"runs": 0, "failed": 0, "na": mine[0]["error"]}
                if mine[0].get("excluded"):
                    per_server[name]["excluded"] = True  # not in this scenario's table
                continue
            mine = [r for r in mine if not r.get("skipped")]
            good = [r for r in mine if r["ok"]]
            entry = {"runs": len(mine), "failed": len(mine) - len(good)}
            if good:
                values = [r["value"] for r in good]
                entry.update(median=statistics.median(values), min=min(values), max=max(values))
                ratios = [
                    rep[name]["value"] / rep[ref]["value"]
                    for rep in by_repeat.values()
                    if name in rep and ref in rep and rep[ref]["value"]
                ]
                if ratios:
                    entry["ratio"] = statistics.median(ratios)
                    entry["ratio_min"] = min(ratios)
                    entry["ratio_max"] = max(ratios)
                cpu_ratios = [
                    rep[name]["per_cpu_s"] / rep[ref]["per_cpu_s"]
                    for rep in by_repeat.values()
                    if name in rep
                    and ref in rep
                    and rep[name].get("per_cpu_s")
                    and rep[ref].get("per_cpu_s")
                ]
                if cpu_ratios:
                    entry["per_cpu_ratio"] = statistics.median(cpu_ratios)
                loads = [r["other_load"] for r in good if "other_load" in r]
                if loads:
                    entry["other_load_max"] = max(loads)
                for key in (
                    "server_cpu",
                    "client_cpu",
                    "redis_cpu",
                    "generator_cpu",
                    "per_cpu_s",
                    "compression_ratio",
                    "wire_bytes_per_message",
                    "compressed_share",
                    "redis_cpu",
                ):
                    vals = [r[key] for r in good if key in r]
                    if vals:
                        entry[key] = statistics.median(vals)
                lat = [r["latency_ms"] for r in good if "latency_ms" in r]
                if lat:
                    entry["latency_p50_ms"] = statistics.median(x["p50"] for x in lat)
                    entry["latency_p99_ms"] = statistics.median(x["p99"] for x in lat)
            errors = sorted({r["error"] for r in mine if not r["ok"]})
            if errors:
                entry["errors"] = errors
            per_server[name] = entry
        summary[sc.name] = per_server
    return summary


def print_tables(
    summary: dict,
    servers: list[str],
    scenarios: list[Scenario],
    out,
    references: str | dict = BASELINE,
    clients: list[str] = (),
    client_reference: str = CLIENT_BASELINE,
) -> None:
    for sc in scenarios:
        reference = reference_of(sc, references)
        per = summary[sc.name]
        better = "higher" if sc.higher_is_better else "lower"
        names = clients if sc.client_load else servers
        ref = client_reference if sc.client_load else reference
        print(f"\n### {sc.title}\n", file=out)
        who = "client" if sc.client_load else "server"
        head = f"| {who} | {sc.unit} (median) | min–max | × {ref} |"
        rule = "|---|--:|--:|--:|"
        extra = []
        if sc.client_load:
            extra.append(("per_cpu_s", PER_CPU[sc.name][1]))
            extra.append(("per_cpu_ratio", f"{PER_CPU[sc.name][1]} × {ref}"))
            extra.append(("client_cpu", "client CPU"))
            extra.append(("server_cpu", "server CPU"))
        elif sc.name in PER_CPU:
            extra.append(("per_cpu_s", PER_CPU[sc.name][1]))
            if sc.reference:
                extra.append(("per_cpu_ratio", "per CPU-s ×"))
            extra.append(("server_cpu", "server CPU"))
        if sc.sessions:
            extra.append(("redis_cpu", "redis CPU"))
        elif sc.reference and sc.name in PER_CPU:
            extra.append(("redis_cpu", "of it redis"))
        if sc.mode == "broadcast":
            extra += [("latency_p50_ms", "latency p50 ms"), ("latency_p99_ms", "p99 ms")]
        if sc.deflate:
            extra += [
                ("wire_bytes_per_message", "wire bytes/msg"),
                ("compression_ratio", "compression"),
            ]
        if sc.name != "idle" and not sc.client_load:
            extra.append(("generator_cpu", "generator CPU"))
        for _key, label in extra:
            head += f" {label} |"
            rule += "--:|"
        print(head, file=out)
        print(rule, file=out)
        for name in names:
            e = per.get(name, {})
            if e.get("excluded"):
                continue
            if "na" in e:
                print(f"| {name} | n/a |" + " |" * (2 + len(extra)), file=out)
                continue
            if "median" not in e:
                err = "; ".join(e.get("errors", ["not run"]))[:80]
                print(f"| {name} | failed: {err} |" + " |" * (2 + len(extra)), file=out)
                continue
            ratio = f"{e['ratio']:.2f}×" if "ratio" in e else "-"
            row = (
                f"| {name} | {_fmt(e['median'], sc.unit)} | "
                f"{_fmt(e['min'], sc.unit)}–{_fmt(e['max'], sc.unit)} | {ratio} |"
            )
            for key, _label in extra:
                v = e.get(key)
                if v is None:
                    row += " - |"
                elif key in ("server_cpu", "generator_cpu", "redis_cpu", "client_cpu"):
                    row += f" {v * 100:.0f}% |"
                elif key == "per_cpu_ratio":
                    row += f" {v:.2f}× |"
                elif key.startswith("latency"):
                    row += f" {v:.1f} |"
                elif key in ("compression_ratio", "per_cpu_ratio"):
                    row += f" {v:.2f}× |"
                elif key == "wire_bytes_per_message":
                    row += f" {v:.0f} |"
                else:
                    row += f" {_fmt(v)} |"
            if e.get("failed"):
                row += f" ({e['failed']} failed)"
            print(row, file=out)
        note = f"({better} is better"
        if sc.reference and sc.sessions:
            note += f"; per CPU-s ×: {sc.unit.split('/')[0]} per CPU-second ÷ {reference}'s"
        elif sc.reference:
            note += (
                f"; server CPU: every server process and the redis-server added up, "
                f"all on one CPU; per CPU-s ×: deliveries per CPU-second ÷ {reference}'s"
            )
        if sc.deflate:
            note += (
                f"; n/a: {NO_DEFLATE}; wire bytes/msg: payload bytes per message as "
                "received, compression: inflated ÷ wire bytes"
            )
        if sc.client_load:
            note += (
                "; per CPU-s: per second of the client's own CPU time; server CPU: "
                "the fixed server's (loadgen serve) share of its CPU"
            )
        if sc.sessions:
            note += (
                "; redis CPU: the redis-server's share of a CPU (it shares the "
                f"generator's); -: no Redis; n/a: {NO_SESSIONS}"
            )
        loads = [e["other_load_max"] for e in per.values() if "other_load_max" in e]
        noisy = [v for v in loads if v > OTHER_LOAD_WARNING]
        if noisy:
            note += (
                f"; other processes used up to {max(noisy) * 100:.0f}% of a CPU during "
                f"some runs: treat these figures with care"
            )
        print(f"\n{note})", file=out)

    # The overview: one row per server, one column per scenario (the client
    # scenarios have rows of their own, in their tables above).
    scenarios = [sc for sc in scenarios if not sc.client_load]
    if not scenarios:
        return
    # The reference most scenarios share; the others say theirs in the head.
    overall = statistics.mode([reference_of(sc, references) for sc in scenarios] or [BASELINE])
    print(
        "\n### Overview: median, and × " + overall + " (median of per-repeat ratios)\n",
        file=out,
    )
    heads = []
    for sc in scenarios:
        own = reference_of(sc, references)
        heads.append(f"{sc.name} ({sc.unit}" + (f", × {own})" if own != overall else ")"))
    print("| server | " + " | ".join(heads) + " |", file=out)
    print("|---|" + "--:|" * len(scenarios), file=out)
    for name in servers:
        cells = []
        for sc in scenarios:
            e = summary[sc.name].get(name, {})
            if "na" in e:
                cells.append("n/a")
                continue
            if "median" not in e:
                cells.append("failed" if e.get("runs") else "-")
                continue
            cell = _fmt(e["median"], sc.unit)
            if "ratio" in e and name != reference_of(sc, references):
                cell += f" ({e['ratio']:.2f}×)"
            cells.append(cell)
        print(f"| {name} | " + " | ".join(cells) + " |", file=out)


# --------------------------------------------------------------------------
# Environment


def _version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as e:
        return f"unknown ({e})"


def environment() -> dict:
    info = {
        "python": sys.version.split()[0],
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "loadgen_cpu_server": SERVER_CPU,
        "loadgen_cpu_generator": GENERATOR_CPU,
    }
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            info["cpu_model"] = m.group(1) if m else "unknown"
        with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
            info["tcp_congestion_control"] = f.read().strip()
    except OSError:
        pass
    code = (
        "import importlib.metadata as m, json\n"
        "out = {}\n"
        "for p in ('twisted', 'autobahn', 'websockets', 'picows', 'wsaccel', 'zope.interface',\n"
        "          'redis', 'django', 'channels', 'channels_redis', 'daphne'):\n"
        "    try: out[p] = m.version(p)\n"
        "    except Exception: out[p] = None\n"
        "print(json.dumps(out))"
    )
    try:
        info["packages"] = json.loads(_version([str(PYTHON), "-c", code]))
    except ValueError:
        info["packages"] = {}
    info["node"] = _version(["node", "--version"])
    info["redis_server"] = _version(["redis-server", "--version"])
    try:
        info["ws"] = json.loads((BENCH / "node_modules" / "ws" / "package.json").read_text())[
            "version"
        ]
    except OSError:
        info["ws"] = None
    info["ratchet_tx_commit"] = _version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _version(["git", "-C", str(REPO), "status", "--porcelain", "--", "ratchet_tx"])
    info["ratchet_tx_dirty"] = bool(dirty)
    return info


def speedupsBuilt() -> bool:
    """Whether the ratchet_tx the servers run uses its C speedups."""
    check = subprocess.run(
        [str(PYTHON), "-c", "from ratchet_tx.websocket.codecs import hybi; print(hybi.SPEEDUPS)"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ratchet_root)),
    )
    return check.stdout.strip() == "True"


# --------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Benchmark ratchet_tx side by side with its peers (see bench/README.md)."
    )
    p.add_argument(
        "--servers",
        default=None,
        help="comma-separated, from: " + ", ".join(SERVER_NAMES) + " (all; --curves: "
        "ratchet_tx, autobahn, websockets, picows, node-ws, raw-twisted)",
    )
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIO_NAMES),
        help="comma-separated, from: " + ", ".join(SCENARIO_NAMES),
    )
    p.add_argument(
        "--clients",
        default=",".join(CLIENT_NAMES),
        help="for the client scenarios, comma-separated, from: " + ", ".join(CLIENT_NAMES),
    )
    p.add_argument("--repeats", type=int, default=None, help="repeats (5; --quick: 1)")
    p.add_argument("--warmup", type=float, default=None, help="seconds (1; --quick: 0.5)")
    p.add_argument(
        "--duration", type=float, default=None, help="seconds measured per run (5; --quick: 2)"
    )
    p.add_argument("--quick", action="store_true", help="one short repeat of everything")
    p.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="SCENARIO=ARGS",
        help="more load generator arguments for a scenario, e.g. "
        "'broadcast=--window 1' (repeatable)",
    )
    p.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the server to CPU 0 and the generator to CPU 1",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="before each run, wait up to this long (and 10 times this in all) for "
        "other processes to leave the CPUs alone (15; 0: do not wait)",
    )
    p.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="REV",
        help="also run ratchet_tx as committed at this git revision, as a server "
        "ratchet_tx@COMMIT beside the work tree's (repeatable)",
    )
    p.add_argument(
        "--ratio-to",
        default=None,
        metavar="SERVER",
        help=f"the server (or client) the × columns compare with ({BASELINE}, in the "
        f"client scenarios {CLIENT_BASELINE}; with --baseline and without it among "
        f"--servers (--clients): the first baseline)",
    )
    p.add_argument(
        "--curves",
        action="store_true",
        help="run the scaling curves instead (bench/curves.py: broadcast to 100, 1000 "
        "and 10 000 receivers, 10 000 and 50 000 idle connections), write their JSON "
        "and draw bench/curves.png; with --report JSON, redraw and print an earlier one",
    )
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="PNG",
        help="with --curves: where to draw the plot (bench/curves.png)",
    )
    p.add_argument("--output", type=Path, default=None, help="the JSON file to write")
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="JSON",
        help="run nothing: print the tables of an earlier results file",
    )
    o = p.parse_args(argv)
    for name in ("plot", "output", "report"):
        setattr(o, name, _callerPath(getattr(o, name)))
    o.repeats = o.repeats or (1 if o.quick or o.curves else 5)
    o.warmup = o.warmup if o.warmup is not None else (0.5 if o.quick else 1.0)
    o.duration = o.duration if o.duration is not None else (
        2.0 if o.quick else 3.0 if o.curves else 5.0
    )
    if o.curves and o.servers is None:
        from curves import CURVE_SERVERS

        o.servers = ",".join(CURVE_SERVERS)
    o.servers = o.servers or ",".join(SERVER_NAMES)
    o.servers = [s.strip() for s in o.servers.split(",") if s.strip()]
    o.scenarios = [s.strip() for s in o.scenarios.split(",") if s.strip()]
    o.clients = [s.strip() for s in o.clients.split(",") if s.strip()]
    for s in o.clients:
        if s not in CLIENT_NAMES:
            p.error(f"unknown client {s!r}; known: {', '.join(CLIENT_NAMES)}")
    for s in o.servers:
        if s not in SERVER_NAMES:
            p.error(f"unknown server {s!r}; known: {', '.join(SERVER_NAMES)}")
    for s in o.scenarios:
        if s not in SCENARIO_NAMES:
            p.error(f"unknown scenario {s!r}; known: {', '.join(SCENARIO_NAMES)}")
    extra = {}
    for item in o.extra:
        name, sep, args = item.partition("=")
        if not sep or name not in SCENARIO_NAMES:
            p.error(f"--extra takes SCENARIO=ARGS, not {item!r}")
        extra.setdefault(name, []).extend(args.split())
    o.extra = extra
    return o


def report(path: Path) -> int:
    document = json.loads(path.read_text())
    names = document["options"]["servers"]
    scenarios = [sc for sc in SCENARIOS if sc.name in document["options"]["scenarios"]]
    env = document["environment"]
    print(
        f"{document['started']}: ratchet_tx {env['ratchet_tx_commit']}"
        f"{' (modified)' if env['ratchet_tx_dirty'] else ''}"
        f"{' with C speedups' if env.get('ratchet_tx_speedups') else ''}, "
        f"{document['options']['repeats']} "
        f"repeat(s) of {document['options']['warmup']} s + {document['options']['duration']} s"
    )
    reference = document["options"].get(
        "references", document["options"].get("ratio_to", document["options"]["baseline"])
    )
    clients = document["options"].get("clients", [])
    clientReference = document["options"].get("client_ratio_to", CLIENT_BASELINE)
    summary = summarize(document["runs"], names, scenarios, reference, clients, clientReference)
    print_tables(summary, names, scenarios, sys.stdout, reference, clients, clientReference)
    return 0


def _counted(runs: list[dict]) -> int:
    """The runs so far, but those of servers not in their scenario."""
    return sum(1 for r in runs if not r.get("excluded"))


def _callerPath(path: Path | None) -> Path | None:
    """
    C{path} as the caller meant it: bench/run changes to bench/ before
    running the driver, so a relative path is taken from where bench/run was
    called (C{BENCH_CALLER_DIR}), not from bench/.
    """
    if path is None or path.is_absolute():
        return path
    return Path(os.environ.get("BENCH_CALLER_DIR", ".")).resolve() / path


def main(argv=None) -> int:
    options = parse_args(argv)
    if options.curves:
        import curves

        return curves.main(options)
    if options.report:
        return report(options.report)
    if not LOADGEN.exists():
        sys.exit(f"{LOADGEN} is missing: run bench/run, which builds it")
    if options.pin and (os.cpu_count() or 1) < 2:
        print("fewer than 2 CPUs: not pinning", file=sys.stderr)
        options.pin = False
    if options.pin:
        os.sched_setaffinity(0, {GENERATOR_CPU})
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 10000 + 100 and "idle" in options.scenarios:
        print(
            f"warning: RLIMIT_NOFILE hard limit {hard} is below 10 100; "
            "the idle scenario will fail",
            file=sys.stderr,
        )
    servers = [s for s in SERVERS if s.name in options.servers]
    scenarios = [s for s in SCENARIOS if s.name in options.scenarios]
    baselines = [(rev, resolve_revision(rev)) for rev in options.baseline]
    snapshot = tempfile.TemporaryDirectory(prefix="ratchet_tx-bench-")
    # Each ratchet_tx server chosen (ratchet_tx if none) again at every
    # baseline revision, right after it.
    likes = [n for n in RATCHET_SERVERS if n in options.servers] or ["ratchet_tx"]
    for rev, commit in baselines:
        root = Path(snapshot.name) / f"at-{commit}"
        if not root.exists():
            snapshot_revision(commit, root)
            for like in likes:
                at = next((i + 1 for i, s in enumerate(servers) if s.name == like), 0)
                while at < len(servers) and servers[at].name.startswith(f"{like}@"):
                    at += 1
                servers.insert(at, baseline_server(rev, commit, root, like))
    clients = [c for c in CLIENTS if c.name in options.clients]
    at = next((i + 1 for i, c in enumerate(clients) if c.name == "ratchet_tx"), 0)
    for rev, commit in baselines:
        name = f"ratchet_tx@{commit}"
        if all(c.name != name for c in clients):
            clients.insert(at, baseline_client(rev, commit, Path(snapshot.name) / f"at-{commit}"))
            at += 1
    reference = (
        options.ratio_to
        if options.ratio_to in [s.name for s in servers]
        else (
            f"{likes[0]}@{baselines[0][1]}"
            if baselines and BASELINE not in options.servers
            else BASELINE
        )
    )
    clientReference = (
        options.ratio_to
        if options.ratio_to in [c.name for c in clients]
        else (
            f"ratchet_tx@{baselines[0][1]}"
            if baselines and CLIENT_BASELINE not in options.clients
            else CLIENT_BASELINE
        )
    )
    # A scenario that names its own reference (sessions: ratchet_tx) uses it
    # when it runs and --ratio-to does not say otherwise.
    names_run = {s.name for s in servers}
    references = {
        sc.name: sc.reference
        if sc.reference in names_run and not options.ratio_to
        else reference
        for sc in scenarios
    }
    if shutil.which("node") is None and any(s.name == "node-ws" for s in servers):
        sys.exit("node is not installed")

    started = datetime.datetime.now()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    logdir = RESULTS / f"{stamp}-logs"
    logdir.mkdir()
    output = options.output or RESULTS / f"{stamp}.json"
    total = options.repeats * sum(
        len(clients) if sc.client_load else sum(not s.only or sc.name in s.only for s in servers)
        for sc in scenarios
    )
    print(
        f"{total} runs: servers {', '.join(s.name for s in servers)}; clients "
        f"{', '.join(c.name for c in clients)}; scenarios "
        f"{', '.join(s.name for s in scenarios)}; {options.repeats} repeat(s) of "
        f"{options.warmup} s warm-up + {options.duration} s",
        flush=True,
    )

    machine = environment()  # before the runs: the repository may move meanwhile
    machine["baselines"] = {f"{like}@{commit}": rev for rev, commit in baselines for like in likes}
    if any(s.name in (*RATCHET_SERVERS, "raw-writethrough") for s in servers) or (
        any(sc.client_load for sc in scenarios) and any(c.name == "ratchet_tx" for c in clients)
    ):
        snapshot_ratchet(Path(snapshot.name) / "work-tree")
        machine["ratchet_tx_speedups"] = speedupsBuilt()
    runs = []
    waited = 0.0
    t_start = time.monotonic()
    for sc in scenarios:
        for rep in range(options.repeats):
            for server in clients if sc.client_load else servers:
                tag = f"{sc.name}-{server.name}-{rep}"
                why = None if sc.client_load else unavailable(server, sc)
                if why is not None:
                    # Not a failure: this server cannot take part.
                    runs.append(
                        {
                            "scenario": sc.name,
                            "server": server.name,
                            "ok": False,
                            "skipped": True,
                            "error": why,
                            "repeat": rep,
                            "excluded": bool(server.only),
                        }
                    )
                    if not server.only:  # (a scenario-only server is quietly left out)
                        elapsed = time.monotonic() - t_start
                        print(
                            f"[{_counted(runs):3d}/{total} {elapsed:5.0f}s] {sc.name:<10} "
                            f"#{rep + 1} {server.name:<13} n/a: {why}",
                            flush=True,
                        )
                    continue
                # Wait for a quiet machine, within a total budget.
                budget = QUIET_BUDGET_RUNS * options.quiet_wait - waited
                if budget > 0:
                    t = time.monotonic()
                    wait_quiet(min(options.quiet_wait, budget))
                    waited += time.monotonic() - t
                if sc.client_load:
                    record = run_client(server, sc, options, logdir, tag)
                else:
                    record = run_once(server, sc, options, logdir, tag)
                record["repeat"] = rep
                runs.append(record)
                if record["ok"]:
                    extra = ""
                    if "client_cpu" in record:
                        extra += f"  client CPU {record['client_cpu'] * 100:.0f}%"
                        if "per_cpu_s" in record:
                            extra += f" ({_fmt(record['per_cpu_s'])} {PER_CPU[sc.name][1]})"
                    if "server_cpu" in record:
                        extra += f"  server CPU {record['server_cpu'] * 100:.0f}%"
                    if "redis_cpu" in record:
                        extra += (
                            f"  redis CPU {record['redis_cpu'] * 100:.0f}% "
                            + (
                            f"({record['redis_clients']} connection(s) from the server)"
                            if "redis_clients" in record
                            else ""
                        )
                        )
                    if "generator_cpu" in record and sc.name != "idle":
                        extra += f"  generator CPU {record['generator_cpu'] * 100:.0f}%"
                    if "latency_ms" in record:
                        lat = record["latency_ms"]
                        extra += f"  latency p50 {lat['p50']:.1f} p99 {lat['p99']:.1f} ms"
                    if "compression_ratio" in record:
                        extra += (
                            f"  {record['wire_bytes_per_message']:.0f} of "
                            f"{record['payload_bytes_per_message']:.0f} bytes on the wire "
                            f"({record['compression_ratio']:.2f}×)"
                        )
                    if record.get("other_load", 0) > OTHER_LOAD_WARNING:
                        extra += f"  WARNING: other load {record['other_load'] * 100:.0f}% of a CPU"
                    line = f"{_fmt(record['value'], sc.unit)} {sc.unit}{extra}"
                else:
                    line = f"FAILED: {record['error']}"
                elapsed = time.monotonic() - t_start
                print(
                    f"[{_counted(runs):3d}/{total} {elapsed:5.0f}s] {sc.name:<10} "
                    f"#{rep + 1} {server.name:<13} {line}",
                    flush=True,
                )

    snapshot.cleanup()
    names = [s.name for s in servers]
    clientNames = [c.name for c in clients]
    summary = summarize(runs, names, scenarios, references, clientNames, clientReference)
    print_tables(summary, names, scenarios, sys.stdout, references, clientNames, clientReference)
    document = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - t_start, 1),
        "environment": machine,
        "options": {
            "servers": names,
            "scenarios": {
                sc.name: [sc.mode] + sc.args + options.extra.get(sc.name, []) for sc in scenarios
            },
            "repeats": options.repeats,
            "warmup": options.warmup,
            "duration": options.duration,
            "pinned": options.pin,
            "quiet_wait": options.quiet_wait,
            "baseline": BASELINE,
            "ratio_to": reference,
            "clients": clientNames,
            "client_ratio_to": clientReference,
            "references": references,
            "revisions": options.baseline,
        },
        "servers": {s.name: s.description for s in servers},
        "clients": {c.name: c.description for c in clients},
        "summary": summary,
        "runs": runs,
    }
    output.write_text(json.dumps(document, indent=1))
    print(f"\nresults: {output}\nserver logs: {logdir}")
    failed = sum(1 for r in runs if not r["ok"] and not r.get("skipped"))
    if failed:
        print(f"{failed} run(s) failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
