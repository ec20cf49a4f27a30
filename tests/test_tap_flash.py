"""
Tests for C{twistd ratchet --flash-policy-port} (L{ratchet_tx.tap}) and
L{ratchet_tx.commandline.listeningPort}; the answers themselves, over real
sockets, are in L{tests.websocket.test_flash_sniff}.
"""

from __future__ import annotations

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.commandline import listeningPort
from ratchet_tx.flashpolicy import FlashPolicyFactory
from ratchet_tx.tap import Options, makeService
from ratchet_tx.websocket.codecs.flashpolicy import FlashPolicy

ECHO = ["--app", "ratchet_tx.examples.echo:Echo"]


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions([*ECHO, *args])
    return options


class OptionTests(SynchronousTestCase):
    def test_offByDefault(self) -> None:
        options = parse("--listen", "tcp:8080")
        self.assertIsNone(options["flash-policy"])
        self.assertIsNone(options.layerFor(options["application"]).flashPolicy)

    def test_policyAllowsTheListenPorts(self) -> None:
        options = parse(
            "--listen",
            "tcp:8080",
            "--listen",
            "tcp:port=8443:interface=127.0.0.1",
            "--listen",
            "unix:/tmp/x.sock",
            "--flash-policy-port",
            "843",
        )
        self.assertEqual(options["flash-policy"], FlashPolicy(ports=(8080, 8443)))
        self.assertEqual(options["flash-policy-listen"], "tcp:843")
        layer = options.layerFor(options["application"])
        self.assertEqual(layer.flashPolicy, FlashPolicy(ports=(8080, 8443)))

    def test_domains(self) -> None:
        options = parse(
            "--listen",
            "tcp:8080",
            "--flash-policy-port",
            "tcp:843:interface=127.0.0.1",
            "--flash-policy-domain",
            "example.com",
            "--flash-policy-domain",
            "*.example.org",
        )
        self.assertEqual(options["flash-policy"].domains, ("example.com", "*.example.org"))
        self.assertEqual(options["flash-policy-listen"], "tcp:843:interface=127.0.0.1")

    def test_errors(self) -> None:
        for args, message in [
            (["--flash-policy-domain", "example.com"], "needs --flash-policy-port"),
            (["--listen", "unix:/tmp/x.sock", "--flash-policy-port", "843"], "no --listen port"),
            (
                [
                    "--listen",
                    "tcp:8080",
                    "--flash-policy-port",
                    "843",
                    "--flash-policy-domain",
                    "a b",
                ],
                "invalid domain",
            ),
            (
                ["--listen", "tcp:8080", "--flash-policy-port", "nonsense:843"],
                "--flash-policy-port nonsense:843",
            ),
        ]:
            with self.assertRaises(usage.UsageError) as raised:
                parse(*args)
            self.assertIn(message, str(raised.exception), args)

    def test_serviceListensForPolicies(self) -> None:
        options = parse("--listen", "tcp:8080", "--flash-policy-port", "843")
        service = makeService(options)
        self.assertEqual(service.descriptions, ["tcp:8080", "tcp:843"])
        listeners = list(service)
        self.assertIsInstance(listeners[1].factory, FlashPolicyFactory)
        self.assertEqual(listeners[1].factory.policy, FlashPolicy(ports=(8080,)))

    def test_noPolicyListenerByDefault(self) -> None:
        service = makeService(parse("--listen", "tcp:8080"))
        self.assertEqual(service.descriptions, ["tcp:8080"])
        self.assertEqual(len(list(service)), 1)


class ListeningPortTests(SynchronousTestCase):
    def test_ports(self) -> None:
        cases = {
            "tcp:8080": 8080,
            "tcp:8080:interface=127.0.0.1": 8080,
            "tcp:port=9000:interface=::1": 9000,
            "ssl:8443:privateKey=key.pem": 8443,
            "tcp:0": None,
            "unix:/run/chat.sock": None,
            "systemd:domain=INET:index=0": None,
        }
        for description, port in cases.items():
            self.assertEqual(listeningPort(description), port, description)
