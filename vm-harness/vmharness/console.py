"""Driving a FreeBSD serial console: log in as root, run one command line, and read
what comes back until the guest's END marker, the machine's power-off, or a deadline.

The console is a byte stream (a UNIX socket QEMU serves, or any file object pair); all
of it is kept in the console log.
"""

import socket
import time

from .results import MARKER


class ConsoleTimeout(Exception):
    def __init__(self, what, seconds):
        super().__init__(f"{what}: nothing after {seconds:.0f} s")
        self.what = what


class Console:
    """A console over a connected socket; everything read is appended to `log`."""

    def __init__(self, sock, log, progress=None):
        self.sock = sock
        self.log = log
        self.progress = progress
        self.buf = b""
        self.closed = False

    @classmethod
    def connect_unix(cls, path, log, progress=None, wait=30.0):
        """Connects to a UNIX socket that may not exist yet (QEMU starting)."""
        deadline = time.monotonic() + wait
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return cls(s, log, progress)
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _read(self, timeout):
        if self.closed:
            return False
        self.sock.settimeout(max(0.01, timeout))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.log.write(data)
        self.log.flush()
        self.buf += data
        return True

    def expect(self, needles, timeout, what):
        """Reads until one of `needles` (bytes) appears; returns it. Consumes the buffer
        up to and including the match."""
        deadline = time.monotonic() + timeout
        while True:
            for n in needles:
                at = self.buf.find(n)
                if at >= 0:
                    self.buf = self.buf[at + len(n):]
                    return n
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConsoleTimeout(what, timeout)
            if not self._read(min(left, 1.0)):
                raise ConsoleTimeout(what + " (the console closed)", timeout)

    def send(self, text):
        self.sock.sendall(text.encode())

    def login_root(self, boot_timeout):
        """Waits for the login prompt (the whole boot), logs in as root without a
        password, and waits for the shell's prompt."""
        self.expect([b"login: "], boot_timeout, "waiting for the login prompt")
        if self.progress:
            self.progress("login prompt: logging in as root")
        self.send("root\r")
        got = self.expect([b"# ", b"Password:"], 60, "waiting for root's shell")
        if got == b"Password:":
            raise ConsoleTimeout("root asks for a password (not a CI image?)", 0)

    def run_until_end(self, command, timeout):
        """Sends one command line and reads until the END marker, the console closing
        (power-off) or the deadline. Returns the text read after the command."""
        self.buf = b""
        self.send(command + "\r")
        collected = b""
        deadline = time.monotonic() + timeout
        last_report = time.monotonic()
        while True:
            if (MARKER + " END").encode() in self.buf:
                # Read on briefly: the end of that line.
                self._read(0.5)
                collected += self.buf
                self.buf = b""
                return collected.decode(errors="replace")
            left = deadline - time.monotonic()
            if left <= 0:
                collected += self.buf
                raise ConsoleTimeout("waiting for the guest's END line", timeout)
            if not self._read(min(left, 1.0)):
                collected += self.buf
                return collected.decode(errors="replace")
            if self.progress and time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                lines = [l for l in self.buf.decode(errors="replace").splitlines() if MARKER + " RESULT" in l]
                if lines:
                    self.progress(lines[-1].split(MARKER, 1)[1].strip())
