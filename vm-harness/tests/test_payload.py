"""The payload: the libraries a Linux program loads found with ldd and copied into a
Linux tree, the ISO image (Rock Ridge keeps the programs executable), and the whole
payload assembled from this project's build.

Does not prove: that FreeBSD's Linuxulator runs these programs from that tree (that is
what a run on an image shows), nor that the ISO mounts on FreeBSD (cd9660 with Rock
Ridge is FreeBSD's own CD format)."""

import os
import shutil
import subprocess
import tempfile
import unittest

from vmharness import payload

BUILT = all(os.path.isfile(os.path.join(payload.ROOT, "build", f"freebsd{m}", "linuxaio.ko")) for m in (14, 15))


class Libraries(unittest.TestCase):
    def test_a_dynamic_program_gets_its_loader_and_libc(self):
        paths = payload.ldd_paths(shutil.which("ls"))
        self.assertTrue(any(p.endswith("/ld-linux-x86-64.so.2") for p in paths), paths)
        self.assertTrue(any("/libc.so.6" in p for p in paths), paths)
        with tempfile.TemporaryDirectory() as d:
            added = payload.add_libraries(d, [shutil.which("ls")])
            for p in added:
                self.assertTrue(os.path.isfile(os.path.join(d, p.lstrip("/"))), p)

    def test_a_static_program_needs_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "s.c")
            with open(src, "w") as f:
                f.write("int main(void) { return 0; }\n")
            exe = os.path.join(d, "s")
            if subprocess.run(["cc", "-static", "-o", exe, src], capture_output=True).returncode != 0:
                self.skipTest("no static libc here")
            self.assertEqual(payload.ldd_paths(exe), [])


@unittest.skipUnless(shutil.which("xorriso"), "xorriso is not installed (make test installs it)")
class Iso(unittest.TestCase):
    def test_rock_ridge_keeps_the_exec_bit(self):
        with tempfile.TemporaryDirectory() as d:
            tree = os.path.join(d, "tree")
            os.makedirs(os.path.join(tree, "bin"))
            prog = os.path.join(tree, "bin", "prog")
            with open(prog, "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(prog, 0o700)
            iso = payload.make_iso(tree, os.path.join(d, "p.iso"))
            ls = subprocess.run(["xorriso", "-indev", iso, "-lsl", "/bin"], capture_output=True, text=True).stdout
            line = next(l for l in ls.splitlines() if l.endswith("prog'") or l.endswith("prog"))
            self.assertTrue(line.startswith("-r-x") or line.startswith("-rwx"), line)


@unittest.skipUnless(BUILT, "the modules are not built (run make)")
class Assemble(unittest.TestCase):
    def test_the_payload_of_this_build(self):
        with tempfile.TemporaryDirectory() as d:
            out = payload.assemble(os.path.join(d, "p"), progress=lambda s: None)
            for m in (14, 15):
                self.assertTrue(os.path.isfile(os.path.join(out, "modules", f"freebsd{m}", "linuxaio.ko")))
            for f in ("run.sh", "payload-id", "fio-jobs.txt", "differences.txt", "manifest.txt", "bin/hold_context"):
                self.assertTrue(os.path.isfile(os.path.join(out, f)), f)
            expected = payload.expected_rules(out)
            self.assertIn("setup_destroy", expected)
            self.assertGreater(len(expected["submit_events"]), 20, "the native run gave its rules")
            self.assertTrue(os.path.isfile(os.path.join(out, "linux", "lib64", "ld-linux-x86-64.so.2")))
            with open(os.path.join(out, "manifest.txt")) as f:
                manifest = f.read()
            self.assertIn("conformance pgetevents_mask", manifest)
            # The tree is complete: with its own loader and only its own library
            # directories (no ld.so.cache), fio starts (as it must under the
            # Linuxulator with compat.linux.emul_path set to the tree).
            if os.path.isfile(os.path.join(out, "bin", "fio")):
                tree = os.path.join(out, "linux")
                dirs = sorted({os.path.dirname(os.path.join(r, f)) for r, _, fs in os.walk(tree) for f in fs if ".so" in f})
                r = subprocess.run([os.path.join(tree, "lib64", "ld-linux-x86-64.so.2"), "--inhibit-cache", "--library-path",
                                    ":".join(dirs), os.path.join(out, "bin", "fio"), "--version"], capture_output=True, text=True, env={})
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout.startswith("fio-"), r.stdout)


if __name__ == "__main__":
    unittest.main()
