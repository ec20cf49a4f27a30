"""
wss:// end to end: C{twistd ratchet --listen ssl:...} with a certificate the
test makes, spoken to by real clients over TLS on loopback.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import ssl
import tempfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase
from websockets.sync.client import connect as wsConnect

from tests.support.twistd import TwistdProcess


def makeCertificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1; returns (key, certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    keyPath = directory / "key.pem"
    certPath = directory / "cert.pem"
    keyPath.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    certPath.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return keyPath, certPath


class SecureWebSocketTests(SynchronousTestCase):
    """
    The same application over wss://, for a modern client and a Hixie-76 one.
    """

    def setUp(self) -> None:
        directory = self.makeDirectory()
        self.key, self.cert = makeCertificate(directory)
        self.context = ssl.create_default_context(cafile=str(self.cert))

    def makeDirectory(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="ratchet-tls-"))
        self.addCleanup(shutil.rmtree, directory, True)
        return directory

    def startServer(self, *args: str) -> TwistdProcess:
        listen = f"ssl:0:interface=127.0.0.1:privateKey={self.key}:certKey={self.cert}"
        server = TwistdProcess.start("--listen", listen, *args)
        self.addCleanup(server.stop)
        return server

    def test_rfc6455OverTLS(self) -> None:
        """
        A C{websockets} client verifies our certificate and echoes a message
        over wss://.
        """
        server = self.startServer("--app", "ratchet_tx.examples.echo:Echo")
        with wsConnect(f"wss://127.0.0.1:{server.port}/", ssl=self.context) as ws:
            ws.send("over TLS")
            self.assertEqual(ws.recv(timeout=5), "over TLS")

    def test_hixieLocationSaysWss(self) -> None:
        """
        A Hixie-76 client over TLS is told its location is wss://, as the
        draft requires, and then talks.
        """
        server = self.startServer("--app", "ratchet_tx.examples.echo:Echo")
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        with self.context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(
                b"GET /demo HTTP/1.1\r\n"
                b"Host: 127.0.0.1\r\n"
                b"Connection: Upgrade\r\n"
                b"Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n"
                b"Upgrade: WebSocket\r\n"
                b"Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
                b"Origin: https://example.com\r\n"
                b"\r\n"
                b"^n:ds[4U" + b"\x00hello\xff"
            )
            received = b""
            while not received.endswith(b"\x00hello\xff"):
                chunk = tls.recv(4096)
                if not chunk:
                    break
                received += chunk
        self.assertIn(b"Sec-WebSocket-Location: wss://127.0.0.1/demo\r\n", received)
        self.assertIn(b"\r\n\r\n8jKS'y:G*Co,Wxa-", received)
        self.assertTrue(received.endswith(b"\x00hello\xff"))

    def test_siteAndApplicationShareTheTLSPort(self) -> None:
        """
        With --static, the web page and the application at --path are served
        on the same TLS port.
        """
        public = self.makeDirectory()
        (public / "index.html").write_text("<p>secure page</p>")
        server = self.startServer(
            "--static", str(public), "--app", "ratchet_tx.examples.echo:Echo", "--path", "/ws"
        )
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        with self.context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            page = b""
            while chunk := tls.recv(4096):
                page += chunk
        self.assertIn(b"<p>secure page</p>", page)
        with wsConnect(f"wss://127.0.0.1:{server.port}/ws", ssl=self.context) as ws:
            ws.send(b"\x00binary")
            self.assertEqual(ws.recv(timeout=5), b"\x00binary")
