"""`make vm-test` where no image exists: it explains how to give one and exits 77; an
image asked for that cannot be had is a failure (2).

Does not prove: anything about a run with an image."""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class NoImage(unittest.TestCase):
    def run_cli(self, *args, **env_extra):
        env = {k: v for k, v in os.environ.items() if k not in ("FREEBSD_IMAGE", "FREEBSD_VERSION")}
        env["FREEBSD_MIRROR"] = "http://127.0.0.1:9"  # nothing listens there
        env.update(env_extra)
        return subprocess.run([sys.executable, "-m", "vmharness", "run", *args], cwd=os.path.join(HERE, ".."),
                              capture_output=True, text=True, env=env, timeout=120)

    def test_explains_and_exits_77(self):
        r = self.run_cli()
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertIn("no FreeBSD image is available", r.stderr)
        self.assertIn("FREEBSD_IMAGE=", r.stderr)

    def test_an_image_asked_for_and_not_had_is_a_failure(self):
        r = self.run_cli("--version", "14.2")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("downloading http://127.0.0.1:9/", r.stderr)

    def test_a_missing_local_image_is_named(self):
        r = self.run_cli("--image", "/nonexistent.raw")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent.raw: no such file", r.stderr)


if __name__ == "__main__":
    unittest.main()
