"""A FreeBSD guest in bhyve(8), for FreeBSD hosts: the same disks and payload as with
QEMU (a raw copy of the image, the payload CD on AHCI, the raw results disk), UEFI
firmware from the edk2-bhyve package, the serial console on an nmdm(4) pair."""

import os
import select
import shutil
import socket
import subprocess
import termios
import tty

FIRMWARE = "/usr/local/share/uefi-firmware/BHYVE_UEFI.fd"


def command(name, system_raw, payload_iso, results_disk, nmdm_a, cpus=2, memory_mb=2048, firmware=FIRMWARE):
    return [
        "bhyve", "-A", "-H", "-P",
        "-c", str(cpus), "-m", f"{memory_mb}M",
        "-s", "0,hostbridge",
        "-s", f"2,virtio-blk,{system_raw}",
        "-s", f"3,ahci-cd,{payload_iso}",
        "-s", f"4,virtio-blk,{results_disk}",
        "-s", "31,lpc",
        "-l", f"com1,{nmdm_a}",
        "-l", f"bootrom,{firmware}",
        name,
    ]


def system_copy(image, dest, size_bytes=8 << 30):
    """bhyve boots raw images: a copy of the image, grown (growfs takes the space)."""
    shutil.copyfile(image, dest)
    with open(dest, "r+b") as f:
        if os.path.getsize(dest) < size_bytes:
            f.truncate(size_bytes)
    return dest


def destroy(name):
    subprocess.run(["bhyvectl", "--destroy", f"--vm={name}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class FdStream:
    """A console device (the B side of an nmdm pair) with the socket calls Console
    uses: settimeout, recv, sendall."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        # Raw: no line buffering (the login prompt has no newline) and no echo (the
        # guest's output must not come back to it as input); no modem control.
        tty.setraw(self.fd)
        attrs = termios.tcgetattr(self.fd)
        attrs[2] |= termios.CLOCAL
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        self.timeout = None

    def settimeout(self, t):
        self.timeout = t

    def recv(self, n):
        r, _, _ = select.select([self.fd], [], [], self.timeout)
        if not r:
            raise socket.timeout()
        try:
            return os.read(self.fd, n)
        except BlockingIOError:
            raise socket.timeout() from None

    def sendall(self, data):
        while data:
            _, w, _ = select.select([], [self.fd], [], 10)
            if w:
                data = data[os.write(self.fd, data):]

    def close(self):
        os.close(self.fd)
