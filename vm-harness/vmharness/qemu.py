"""A FreeBSD guest in QEMU: KVM when /dev/kvm can be used, TCG otherwise; the system
disk as a qcow2 overlay, the payload as a CD, a raw results disk, the serial console
on a UNIX socket (and logged by QEMU itself), user-mode networking."""

import os
import subprocess
import time


def kvm_usable(path="/dev/kvm"):
    """Whether this process can open /dev/kvm read-write (existing is not enough)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


# The results disk's serial number: the guest finds it as /dev/diskid/DISK-<serial>.
RESULTS_SERIAL = "linuxaio-results"

# What is tried, in order: KVM with the host's CPU, KVM with a baseline CPU (some
# nested hosts refuse to set the host model's MSRs), then TCG.
CANDIDATES = (("kvm", "host"), ("kvm", "qemu64"), ("tcg", "max"))


def probe(accel, cpu, qemu="qemu-system-x86_64", seconds=2.0):
    """Whether QEMU stays up with this accelerator and CPU model (a machine with no
    disk sits in its firmware; one that QEMU cannot start exits at once)."""
    try:
        p = subprocess.Popen([qemu, "-machine", "q35", "-accel", accel, "-cpu", cpu, "-m", "64", "-display", "none",
                              "-monitor", "none", "-serial", "null", "-no-reboot"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return False
    try:
        p.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return True


def choose_accel(qemu="qemu-system-x86_64"):
    """(accelerator, CPU model) for this host: the first candidate QEMU runs with."""
    for accel, cpu in CANDIDATES:
        if accel == "kvm" and not kvm_usable():
            continue
        if probe(accel, cpu, qemu):
            return accel, cpu
    return "tcg", "max"


def command(system_disk, payload_iso, results_disk, console_socket, console_log, cpus=2, memory_mb=2048, accel=("tcg", "max"), qemu="qemu-system-x86_64"):
    """The QEMU command line (a list). The guest powers itself off at the end; QEMU
    does not reboot it (-no-reboot), so a panic ends the run too."""
    cmd = [
        qemu,
        "-machine", "q35",
        "-accel", accel[0],
        "-cpu", accel[1],
        "-smp", str(cpus),
        "-m", str(memory_mb),
        "-nodefaults",
        "-display", "none",
        "-monitor", "none",
        "-no-reboot",
        "-chardev", f"socket,id=con0,path={console_socket},server=on,wait=off,logfile={console_log}",
        "-serial", "chardev:con0",
        "-drive", f"file={system_disk},if=virtio,format=qcow2,cache=unsafe",
        "-drive", f"file={payload_iso},media=cdrom,readonly=on",
        "-drive", f"file={results_disk},if=none,id=results,format=raw",
        "-device", f"virtio-blk-pci,drive=results,serial={RESULTS_SERIAL}",
        "-netdev", "user,id=net0",
        "-device", "virtio-net-pci,netdev=net0",
    ]
    return cmd


def results_disk(path, size_mb=64):
    """A blank raw disk the guest writes its results to as one tar archive."""
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    return path


class Machine:
    """A running QEMU; stopped (killed if need be) on exit of the `with` block."""

    def __init__(self, cmd, stderr_path):
        self.cmd = cmd
        self.stderr_path = stderr_path
        self.proc = None

    def __enter__(self):
        self.err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout):
        """Waits for QEMU to exit (the guest powered off); False on timeout."""
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self):
        if self.running():
            self.proc.terminate()
            if not self.wait(10):
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc):
        self.stop()
        self.err.close()
        return False


def wait_for_file(path, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
