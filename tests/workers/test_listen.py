"""Tests for L{ratchet_tx.workers.listen}: the supervisor's hold on the port."""

from __future__ import annotations

import socket

from twisted.internet.error import CannotListenError
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.workers.listen import PortReservation, checkShareable


class PortReservationTests(SynchronousTestCase):
    def test_tcpZeroBecomesOneSharedPort(self) -> None:
        reservation = PortReservation("tcp:0:interface=127.0.0.1:backlog=7")
        reservation.reserve()
        self.addCleanup(reservation.release)
        self.assertNotEqual(reservation.port, 0)
        self.assertEqual(
            reservation.workerDescription(),
            f"tcp:{reservation.port}:interface=127.0.0.1:backlog=7:reusePort=yes",
        )

    def test_anIPv6InterfaceStaysEscaped(self) -> None:
        reservation = PortReservation(r"tcp:0:interface=\:\:1")
        reservation.reserve()
        self.addCleanup(reservation.release)
        self.assertEqual(
            reservation.workerDescription(),
            rf"tcp:{reservation.port}:interface=\:\:1:reusePort=yes",
        )

    def test_aPortInUseIsRefused(self) -> None:
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        reservation = PortReservation(f"tcp:{taken.getsockname()[1]}:interface=127.0.0.1")
        self.assertRaises(CannotListenError, reservation.reserve)

    def test_theReservationAcceptsNoConnection(self) -> None:
        reservation = PortReservation("tcp:0:interface=127.0.0.1")
        reservation.reserve()
        self.addCleanup(reservation.release)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", reservation.port), timeout=5).close()

    def test_onlyTcpIsShared(self) -> None:
        checkShareable("tcp:8080:interface=127.0.0.1")
        self.assertRaises(ValueError, checkShareable, "unix:/tmp/chat.sock")
        self.assertRaises(ValueError, checkShareable, "ssl:8443")
        self.assertRaises(ValueError, checkShareable, "tcp:8080:reusePort=yes")
