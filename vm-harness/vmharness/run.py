"""One run on a FreeBSD guest: payload, boot, log in, run, collect, judge."""

import os
import tarfile

import subprocess

from . import bhyve, console, images, payload, qemu, results

# Exit statuses of `vmharness run` (and `make vm-test`).
PASSED = 0
FAILED = 1
BROKEN = 2  # the guest did not finish: boot, login or run timed out, QEMU failed
NO_IMAGE = 77  # no FreeBSD image is available here

NO_IMAGE_TEXT = """\
vm-test: no FreeBSD image is available, so nothing ran on FreeBSD.

Give the harness one of:
  FREEBSD_IMAGE=/path/to/FreeBSD-14.2-RELEASE-amd64-BASIC-CI.raw.xz make vm-test
      a local image (raw or qcow2, .xz allowed) whose serial console lets root log
      in without a password: FreeBSD's BASIC-CI images do;
  FREEBSD_VERSION=14.2 make vm-test        (or 15.0)
      downloads that release's BASIC-CI image from FreeBSD's mirror
      (FREEBSD_MIRROR to change it), checks it against the release's CHECKSUM.SHA256,
      and keeps it in {cache}.
"""


def guest_command(script="run.sh"):
    """What root types on the console: copy the payload from the CD to a writable
    place, run `script` of it, write the results disk (one tar archive), power off."""
    # The CD and the results disk by their labels (GEOM's iso9660 label and the disk's
    # serial number), with the probe-order names as the fallback.
    return (
        f"cd=/dev/iso9660/{payload.LABEL}; [ -e $cd ] || cd=/dev/cd0; "
        f"rd=/dev/diskid/DISK-{qemu.RESULTS_SERIAL}; [ -e $rd ] || rd=/dev/vtbd1; "
        "mkdir -p /mnt/payload && mount_cd9660 $cd /mnt/payload && "
        "cp -R /mnt/payload /root/payload && umount /mnt/payload; "
        f"sh /root/payload/{script} /root/payload /root/linuxaio-out; "
        "tar -cf $rd -C /root linuxaio-out; shutdown -p now"
    )


def extract_results(disk, dest):
    """The guest's output directory from the results disk (a tar archive at its start).
    Members are checked to stay inside `dest`."""
    try:
        with tarfile.open(disk) as tar:
            safe = [m for m in tar.getmembers() if not (m.name.startswith("/") or ".." in m.name.split("/")) and (m.isfile() or m.isdir())]
            tar.extractall(dest, members=safe)
            return len(safe)
    except tarfile.TarError:
        return 0


def _qemu(out, image, iso, disk, sock, cpus, memory_mb, log, progress):
    system = images.overlay(image, os.path.join(out, "system.qcow2"))
    accel = qemu.choose_accel()
    cmd = qemu.command(system, iso, disk, sock, os.path.join(out, "console.qemu.log"), cpus=cpus, memory_mb=memory_mb, accel=accel)
    how = "KVM" if accel[0] == "kvm" else "TCG (no usable KVM: slow)"
    progress(f"booting {os.path.basename(image)} in QEMU with {how}, CPU model {accel[1]}, {cpus} CPUs")

    def connect():
        if not qemu.wait_for_file(sock, 30):
            raise console.ConsoleTimeout("QEMU did not start (see qemu.stderr)", 30)
        return console.Console.connect_unix(sock, log, progress)

    return qemu.Machine(cmd, os.path.join(out, "qemu.stderr")), connect


def _bhyve(out, image, iso, disk, cpus, memory_mb, log, progress):
    name = f"linuxaio{os.getpid()}"
    unit = os.getpid() % 1000
    system = bhyve.system_copy(image, os.path.join(out, "system.raw"))
    cmd = bhyve.command(name, system, iso, disk, f"/dev/nmdm{unit}A", cpus=cpus, memory_mb=memory_mb)
    progress(f"booting {os.path.basename(image)} in bhyve ({name}, {cpus} CPUs)")

    class Vm(qemu.Machine):
        def __exit__(self, *exc):
            super().__exit__(*exc)
            bhyve.destroy(name)
            return False

    def connect():
        if not qemu.wait_for_file(f"/dev/nmdm{unit}B", 30):
            raise console.ConsoleTimeout("bhyve did not start (see bhyve.stderr)", 30)
        return console.Console(bhyve.FdStream(f"/dev/nmdm{unit}B"), log, progress)

    return Vm(cmd, os.path.join(out, "bhyve.stderr")), connect


def run(out, image, cpus=None, memory_mb=2048, boot_timeout=600, run_timeout=3600, progress=print, payload_dir=None, script="run.sh"):
    """Boots `image` with the payload and returns (exit status, Report). QEMU on Linux,
    bhyve on FreeBSD (VM_HYPERVISOR=qemu|bhyve to choose)."""
    os.makedirs(out, exist_ok=True)
    if payload_dir is None:
        # Made afresh for every run: the module and the scripts tested are this tree's.
        payload_dir = payload.assemble(os.path.join(out, "payload"), progress=progress)
    iso = payload.make_iso(payload_dir, os.path.join(out, "payload.iso"))
    disk = qemu.results_disk(os.path.join(out, "results.img"))
    sock = os.path.join(out, "console.sock")
    log_path = os.path.join(out, "console.log")
    for p in (sock, log_path):
        if os.path.exists(p):
            os.unlink(p)
    cpus = cpus or os.cpu_count() or 2
    hypervisor = os.environ.get("VM_HYPERVISOR") or ("bhyve" if os.uname().sysname == "FreeBSD" else "qemu")
    status = BROKEN
    with open(log_path, "wb") as log:
        try:
            if hypervisor == "bhyve":
                machine, connect = _bhyve(out, image, iso, disk, cpus, memory_mb, log, progress)
            else:
                machine, connect = _qemu(out, image, iso, disk, sock, cpus, memory_mb, log, progress)
        except (OSError, subprocess.SubprocessError) as e:
            progress(f"vm-test: could not start the machine: {e}")
            machine = None
        if machine is not None:
            with machine as vm:
                con = None
                try:
                    con = connect()
                    con.login_root(boot_timeout)
                    progress("running the payload")
                    con.run_until_end(guest_command(script), run_timeout)
                    if not vm.wait(120):
                        progress("the guest did not power off: stopping it")
                    status = None
                except (console.ConsoleTimeout, OSError) as e:
                    progress(f"vm-test: {e}")
                finally:
                    if con is not None:
                        con.sock.close()
    if status == BROKEN:
        for name in ("qemu.stderr", "bhyve.stderr"):
            path = os.path.join(out, name)
            if os.path.isfile(path) and os.path.getsize(path):
                with open(path, errors="replace") as f:
                    progress(f"{name}: " + f.read()[-2000:].strip())
    extract_results(disk, out)
    # The guest's own copy of its result lines, from the results disk, is clean; the
    # console's is the fallback (a guest that never got to write the disk).
    kept = os.path.join(out, "linuxaio-out", "results.txt")
    with open(kept if os.path.isfile(kept) else log_path, "rb") as f:
        report = results.parse(f.read().decode(errors="replace"))
    rule_results = []
    allowed_harness = {}
    if script == "run.sh" and report.results:
        expected = payload.expected_rules(payload_dir)
        with open(os.path.join(payload_dir, "differences.txt")) as f:
            allowed = results.parse_differences(f.read())
        rule_results = results.compare_rules(report, expected, allowed)
        listed = os.path.join(payload_dir, "harness-differences.txt")
        if os.path.isfile(listed):
            with open(listed) as f:
                allowed_harness = results.parse_harness_differences(f.read())
    with open(os.path.join(out, "results.json"), "w") as f:
        f.write(report.to_json())
    text = results.table(report, rule_results, allowed_harness)
    with open(os.path.join(out, "results.txt"), "w") as f:
        f.write(text + "\n")
    progress(text)
    if status is None:
        status = results.verdict(report, rule_results, allowed_harness) if report.complete else BROKEN
    progress(f"vm-test: {['passed', 'failed', 'did not finish'][min(status, 2)]} (results in {out}; console log {log_path})")
    return status, report
