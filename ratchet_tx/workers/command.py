# -*- test-case-name: tests.workers.test_command -*-
"""
A worker's command line: the supervisor's own C{twistd ratchet} options,
less C{--workers} and C{--listen}, with the shared listeners instead, under
a twistd that stays in the foreground and logs JSON for the supervisor.
"""

from __future__ import annotations

import getopt
import sys
from collections.abc import Iterable, Sequence

from twisted.python import usage

#: The options a worker does not get from its supervisor.
SUPERVISOR_ONLY = frozenset({"workers", "listen"})

#: How a worker runs twistd: its entry point under this interpreter.
TWISTD = (sys.executable, "-c", "from twisted.scripts.twistd import run; run()")

#: The twistd options of every worker: foreground, no pid file (the
#: supervisor has one), its log as JSON on stdout for the supervisor.
WORKER_TWISTD_OPTIONS = (
    "--nodaemon",
    "--pidfile=",
    "--logger=ratchet_tx.workers.logs.workerObserver",
)


def workerArguments(
    options: usage.Options, arguments: Sequence[str], listen: Iterable[str]
) -> list[str]:
    """
    The C{twistd ratchet} C{arguments} a supervisor was given, as its
    workers get them: every option as given (abbreviations spelled out),
    but C{--workers} and C{--listen}, then a C{--listen} for each of
    C{listen}.

    @param options: the parsed options of the command (for the option
        names, their synonyms and which take a value).
    """
    pairs, positional = getopt.getopt(list(arguments), options.shortOpt, options.longOpt)
    takesValue = {name[:-1] for name in options.longOpt if name.endswith("=")}
    result = []
    for flag, value in pairs:
        name = flag.lstrip("-")
        name = options.synonyms.get(name, name)
        if name in SUPERVISOR_ONLY:
            continue
        result.append(f"--{name}={value}" if name in takesValue else f"--{name}")
    result += [f"--listen={description}" for description in listen]
    return [*result, *positional]


def workerCommand(
    subCommand: str,
    arguments: Sequence[str],
    reactorName: str | None = None,
) -> list[str]:
    """
    The whole command line of a worker: twistd, L{WORKER_TWISTD_OPTIONS},
    the supervisor's reactor if it chose one, C{subCommand} and its
    C{arguments}.
    """
    reactor = [f"--reactor={reactorName}"] if reactorName else []
    return [*TWISTD, *WORKER_TWISTD_OPTIONS, *reactor, subCommand, *arguments]
