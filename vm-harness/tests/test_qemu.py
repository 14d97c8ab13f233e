"""QEMU: the command line, and a real QEMU started by the harness on a disk with no
system on it.

The real run shows that QEMU accepts the harness's command line (machine, drives, the
console socket and its log, networking), that the harness connects to the console,
gives up on a guest that never shows a login prompt within the boot timeout, stops
QEMU, and still writes its report. Does not prove: that FreeBSD boots with these
settings (no image here)."""

import os
import shutil
import tempfile
import unittest

from vmharness import qemu, run


class CommandLine(unittest.TestCase):
    def test_kvm_or_tcg(self):
        kvm = qemu.command("s.qcow2", "p.iso", "r.img", "c.sock", "c.log", cpus=4, accel=("kvm", "host"))
        tcg = qemu.command("s.qcow2", "p.iso", "r.img", "c.sock", "c.log", cpus=4, accel=("tcg", "max"))
        self.assertEqual(kvm[kvm.index("-accel") + 1 : kvm.index("-accel") + 4], ["kvm", "-cpu", "host"])
        self.assertEqual(tcg[tcg.index("-accel") + 1], "tcg")
        self.assertIn("-no-reboot", tcg)
        self.assertEqual(tcg[tcg.index("-smp") + 1], "4")
        drives = [tcg[i + 1] for i, a in enumerate(tcg) if a == "-drive"]
        self.assertTrue(drives[0].startswith("file=s.qcow2,if=virtio"))
        self.assertIn("media=cdrom", drives[1])
        self.assertTrue(drives[2].startswith("file=r.img,if=none,id=results,format=raw"))
        self.assertIn("virtio-blk-pci,drive=results,serial=" + qemu.RESULTS_SERIAL, tcg)

    def test_guest_command_ends_with_results_and_power_off(self):
        c = run.guest_command()
        self.assertIn("cd=/dev/iso9660/LINUXAIO; [ -e $cd ] || cd=/dev/cd0", c)
        self.assertIn("mount_cd9660 $cd /mnt/payload", c)
        self.assertIn("rd=/dev/diskid/DISK-linuxaio-results; [ -e $rd ] || rd=/dev/vtbd1", c)
        self.assertIn("tar -cf $rd", c)
        self.assertTrue(c.endswith("shutdown -p now"))


@unittest.skipUnless(shutil.which("qemu-system-x86_64") and shutil.which("qemu-img") and shutil.which("xorriso"),
                     "needs qemu-system-x86_64, qemu-img and xorriso (make test installs them)")
class RealQemu(unittest.TestCase):
    def test_an_accelerator_that_runs_is_chosen(self):
        accel = qemu.choose_accel()
        self.assertIn(accel, qemu.CANDIDATES)
        self.assertTrue(qemu.probe(*accel))

    def test_a_guest_without_a_login_prompt(self):
        with tempfile.TemporaryDirectory() as d:
            image = os.path.join(d, "blank.raw")
            with open(image, "wb") as f:
                f.truncate(16 << 20)
            pdir = os.path.join(d, "payload")
            os.makedirs(os.path.join(pdir, "expected"))
            for name, text in (("run.sh", "exit 0\n"), ("differences.txt", "# none\n")):
                with open(os.path.join(pdir, name), "w") as f:
                    f.write(text)
            said = []
            status, report = run.run(os.path.join(d, "out"), image, cpus=1, memory_mb=256, boot_timeout=6, run_timeout=5,
                                     progress=said.append, payload_dir=pdir)
            out = os.path.join(d, "out")
            with open(os.path.join(out, "qemu.stderr")) as f:
                stderr = f.read()
            self.assertNotIn("error", stderr.lower(), "QEMU refused the command line")
            self.assertNotIn("Assertion", stderr)
            self.assertTrue(os.path.exists(os.path.join(out, "console.qemu.log")), "QEMU's own console log")
            self.assertEqual(status, run.BROKEN)
            self.assertFalse(report.complete)
            self.assertTrue(any("login prompt" in s for s in said), said)
            self.assertTrue(os.path.exists(os.path.join(out, "console.log")))
            self.assertTrue(os.path.exists(os.path.join(out, "results.json")))


if __name__ == "__main__":
    unittest.main()
