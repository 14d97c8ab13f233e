"""`make vm-test` where no image exists: it explains how to give one and exits 77.

Does not prove: anything about a run with an image."""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class NoImage(unittest.TestCase):
    def test_explains_and_exits_77(self):
        env = {k: v for k, v in os.environ.items() if k not in ("FREEBSD_IMAGE", "FREEBSD_VERSION")}
        env["FREEBSD_MIRROR"] = "http://127.0.0.1:9"  # nothing listens there
        for extra in ([], ["--version", "14.2"]):
            r = subprocess.run([sys.executable, "-m", "vmharness", "run", *extra], cwd=os.path.join(HERE, ".."),
                               capture_output=True, text=True, env=env, timeout=120)
            self.assertEqual(r.returncode, 77, r.stderr)
            self.assertIn("no FreeBSD image is available", r.stderr)
            self.assertIn("FREEBSD_IMAGE=", r.stderr)

    def test_a_missing_local_image_is_named(self):
        r = subprocess.run([sys.executable, "-m", "vmharness", "run", "--image", "/nonexistent.raw"], cwd=os.path.join(HERE, ".."),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 77)
        self.assertIn("/nonexistent.raw: no such file", r.stderr)


if __name__ == "__main__":
    unittest.main()
