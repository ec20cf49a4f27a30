"""
Several hosts on this machine, for the tests that need what crosses a
network: each host a Linux network namespace of its own, all on one bridge
in the test's namespace, which reaches every one of them::

    network = Network.create("redis", "a", "b")
    self.addCleanup(network.destroy)
    redis = network["redis"]
    redis.address                      # "10.231.17.1"
    redis.command("redis-server", ...) # ["ip", "netns", "exec", ..., "redis-server", ...]
    network.cut("redis")               # packets to and from it vanish ...
    network.mend("redis")              # ... until it is back

L{Network.cut} takes the host's link down on the bridge's side: its packets
are dropped without a reset, as when a cable is pulled or a switch fails, so
a connection to it hangs rather than closes -- what stopping a process on
loopback can never show.

Only the namespaces, links and bridge it made are touched, and
L{Network.destroy} removes them all (it may be called any number of times;
a network a test forgot is destroyed when the interpreter exits).  Each
network takes a /24 of C{10.231.0.0/16} and names derived from this process's
id, so that test runs side by side do not collide.

Making one needs C{ip} (Debian's C{iproute2}) and the right to create
network namespaces (root, C{CAP_NET_ADMIN}); L{Network.create} raises
L{unittest.SkipTest} where the kernel refuses that right -- a property of
the machine, not a missing package -- and fails where C{ip} is missing.
"""

from __future__ import annotations

import atexit
import itertools
import os
import subprocess
import unittest
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tests.support.system import requirePackage

#: How long one C{ip} command may take, in seconds.
_IP_TIMEOUT = 10

_networks = itertools.count()
_alive: set[Network] = set()


class NetworkError(AssertionError):
    """An C{ip} command failed (the message holds what it printed)."""


def _ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["ip", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_IP_TIMEOUT,
    )
    if check and done.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Host:
    """
    One host of a L{Network}.

    @ivar name: its name in the test (C{"redis"}).
    @ivar namespace: the network namespace it is.
    @ivar address: its IPv4 address, reachable from the test and every
        other host of the network.
    @ivar link: the bridge's side of its link, in the test's namespace.
    """

    name: str
    namespace: str
    address: str
    link: str

    def command(self, *argv: str) -> list[str]:
        """C{argv} run on this host: C{ip netns exec} execs it, same pid."""
        return ["ip", "netns", "exec", self.namespace, *argv]


class Network:
    """
    Hosts on one bridge (see the module docstring).

    @ivar gateway: the test's own address on the bridge.
    """

    def __init__(self, tag: str, subnet: int) -> None:
        self._tag = tag
        self._subnet = subnet
        self._bridge = f"rtx{tag}br"
        self.gateway = self._address(254)
        self._hosts: dict[str, Host] = {}

    @classmethod
    def create(cls, *names: str) -> Network:
        """
        A network of hosts called C{names}, up and reachable.

        @raise unittest.SkipTest: this machine does not allow the tests to
            create network namespaces.
        @raise NetworkError: an C{ip} command failed otherwise.
        """
        requirePackage("iproute2", "the tests of several hosts")
        number = next(_networks)
        tag = f"{os.getpid() % 10000}{number}"
        network = cls(tag, (os.getpid() + number) % 250 + 1)
        probe = f"rtx{tag}probe"
        try:
            _ip("netns", "add", probe)
        except NetworkError as e:
            if "Operation not permitted" in str(e):
                raise unittest.SkipTest(
                    "this machine does not let the tests create network namespaces "
                    "(they need root with CAP_NET_ADMIN)"
                ) from e
            raise
        _ip("netns", "delete", probe)
        _alive.add(network)
        try:
            network._build(names)
        except BaseException:
            network.destroy()
            raise
        return network

    def _address(self, host: int) -> str:
        return f"10.231.{self._subnet}.{host}"

    def _build(self, names: Sequence[str]) -> None:
        _ip("link", "add", self._bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/24", "dev", self._bridge)
        _ip("link", "set", self._bridge, "up")
        for number, name in enumerate(names, start=1):
            namespace = f"rtx{self._tag}{name}"
            outside, inside = f"rtx{self._tag}h{number}", f"rtx{self._tag}n{number}"
            host = Host(name, namespace, self._address(number), outside)
            _ip("netns", "add", namespace)
            self._hosts[name] = host
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", namespace)
            _ip("link", "set", outside, "master", self._bridge)
            _ip("link", "set", outside, "up")
            inNamespace = ("netns", "exec", namespace, "ip")
            _ip(*inNamespace, "link", "set", "lo", "up")
            _ip(*inNamespace, "addr", "add", f"{host.address}/24", "dev", inside)
            _ip(*inNamespace, "link", "set", inside, "up")

    def __getitem__(self, name: str) -> Host:
        return self._hosts[name]

    def __iter__(self) -> Iterator[Host]:
        return iter(self._hosts.values())

    def cut(self, name: str) -> None:
        """Drop everything to and from host C{name}, with no reset."""
        _ip("link", "set", self._hosts[name].link, "down")

    def mend(self, name: str) -> None:
        """Undo L{cut}."""
        _ip("link", "set", self._hosts[name].link, "up")

    def destroy(self) -> None:
        """Remove every namespace, link and the bridge (idempotent)."""
        for host in self._hosts.values():
            # Deleting a namespace deletes its end of the link, and so both.
            _ip("netns", "delete", host.namespace, check=False)
        self._hosts.clear()
        _ip("link", "delete", self._bridge, check=False)
        _alive.discard(self)


@atexit.register
def _destroyForgotten() -> None:
    for network in list(_alive):
        network.destroy()
