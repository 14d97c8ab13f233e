"""Driving the serial console against a fake guest on a socket pair: the login, the one
command line, the marker lines with kernel messages in between, the end, and the
timeouts when the guest does not answer.

Does not prove: that FreeBSD's getty, login and sh print exactly these prompts (the
prompts are "login: " and root's "# " on FreeBSD 14 and 15, as far as the authors
know; the real test is a run on an image)."""

import io
import socket
import threading
import time
import unittest

from vmharness import console, results


def fake_guest(sock, script):
    """Plays `script`: ("send", bytes) or ("expect", bytes) or ("sleep", seconds) or
    ("close",)."""
    buf = b""
    try:
        for step in script:
            if step[0] == "send":
                sock.sendall(step[1])
            elif step[0] == "expect":
                while step[1] not in buf:
                    data = sock.recv(4096)
                    if not data:
                        return
                    buf += data
                buf = buf[buf.index(step[1]) + len(step[1]):]
            elif step[0] == "sleep":
                time.sleep(step[1])
            elif step[0] == "close":
                sock.close()
                return
    except OSError:
        pass


def start(script):
    a, b = socket.socketpair()
    t = threading.Thread(target=fake_guest, args=(b, script), daemon=True)
    t.start()
    log = io.BytesIO()
    return console.Console(a, log), log, t


BOOT = [("send", b"Booting...\r\nFreeBSD/amd64 (freebsd) (ttyu0)\r\n\r\nlogin: "), ("expect", b"root\r"),
        ("send", b"root\r\nroot@freebsd:~ # ")]


class Login(unittest.TestCase):
    def test_login_run_and_report(self):
        run = [("expect", b"run.sh\r"),
               ("send", b"@@LINUXAIO@@ BEGIN test\r\n@@LINUXAIO@@ RESULT load linuxaio PASS 0\r\n"),
               ("send", b"linuxaio: a kernel message @@LINUXAIO@@ RESULT harness 2 PASS 1 exit 0\r\n"),
               ("send", b"@@LINUXAIO@@ END 2 0 0\r\n"), ("sleep", 0.2), ("close",)]
        con, log, _ = start(BOOT + run)
        con.login_root(5)
        text = con.run_until_end("sh run.sh", 5)
        report = results.parse(log.getvalue().decode())
        self.assertEqual(report.end, (2, 0, 0))
        self.assertEqual([r.name for r in report.results], ["linuxaio", "2"])
        self.assertIn("END 2 0 0", text)
        self.assertIn(b"login: ", log.getvalue(), "the console log keeps everything")

    def test_power_off_without_end_returns_what_came(self):
        con, log, _ = start(BOOT + [("expect", b"go\r"), ("send", b"@@LINUXAIO@@ RESULT load linuxaio FAIL 0\r\n"), ("close",)])
        con.login_root(5)
        con.run_until_end("go", 5)
        self.assertFalse(results.parse(log.getvalue().decode()).complete)

    def test_no_login_prompt_times_out(self):
        con, _, _ = start([("send", b"panic: something\r\n"), ("sleep", 5)])
        t0 = time.monotonic()
        with self.assertRaises(console.ConsoleTimeout) as e:
            con.login_root(1)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertIn("login prompt", str(e.exception))

    def test_a_password_prompt_is_refused(self):
        con, _, _ = start([("send", b"login: "), ("expect", b"root\r"), ("send", b"Password:"), ("sleep", 2)])
        with self.assertRaises(console.ConsoleTimeout) as e:
            con.login_root(2)
        self.assertIn("password", str(e.exception))

    def test_a_guest_that_hangs_after_the_command_times_out(self):
        con, _, _ = start(BOOT + [("expect", b"go\r"), ("send", b"@@LINUXAIO@@ RESULT load linuxaio PASS 0\r\n"), ("sleep", 5)])
        con.login_root(5)
        t0 = time.monotonic()
        with self.assertRaises(console.ConsoleTimeout):
            con.run_until_end("go", 1)
        self.assertLess(time.monotonic() - t0, 3)


if __name__ == "__main__":
    unittest.main()
