"""Image resolution: the checksum file, the choice of image, download into the cache
with verification, reuse of the cache, decompression and the qcow2 overlay.

Served by a local HTTP server laid out as FreeBSD's mirror is (CI-IMAGES/<version>-
RELEASE/amd64/Latest/). Does not prove: that FreeBSD's mirror has that layout or those
file names today (the name is read from the checksum file, so only the directory and
the "BASIC-CI" and ".raw.xz" parts are assumed), nor that such an image boots."""

import functools
import hashlib
import http.server
import lzma
import os
import shutil
import subprocess
import tempfile
import threading
import unittest

from vmharness import images

RAW = b"FreeBSD disk image stand-in\n" * 1000


class Server:
    def __init__(self, root):
        self.requests = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()


class Checksums(unittest.TestCase):
    def test_parse_and_pick(self):
        text = ("SHA256 (FreeBSD-15.0-RELEASE-amd64-BASIC-CI-zfs.raw.xz) = " + "a" * 64 + "\n"
                "SHA256 (FreeBSD-15.0-RELEASE-amd64-BASIC-CI-ufs.raw.xz) = " + "B" * 64 + "\n"
                "SHA256 (FreeBSD-15.0-RELEASE-amd64-BASIC-CI-ufs.qcow2.xz) = " + "c" * 64 + "\n"
                "garbage line\n")
        sums = images.parse_checksums(text)
        self.assertEqual(len(sums), 3)
        self.assertEqual(sums["FreeBSD-15.0-RELEASE-amd64-BASIC-CI-ufs.raw.xz"], "b" * 64)
        self.assertEqual(images.pick_image(sums), "FreeBSD-15.0-RELEASE-amd64-BASIC-CI-ufs.raw.xz")
        self.assertEqual(images.pick_image(["FreeBSD-14.2-RELEASE-amd64-BASIC-CI.raw.xz"]), "FreeBSD-14.2-RELEASE-amd64-BASIC-CI.raw.xz")
        with self.assertRaises(images.ImageError):
            images.pick_image(["FreeBSD-14.2-RELEASE-amd64.raw.xz"])

    def test_versions(self):
        self.assertTrue(images.release_dir("14.2").endswith("/releases/CI-IMAGES/14.2-RELEASE/amd64/Latest"))
        for bad in ("13.4", "14", "../x"):
            with self.assertRaises(images.ImageError):
                images.release_dir(bad)


class Download(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        d = os.path.join(self.tmp, "mirror", "releases", "CI-IMAGES", "14.2-RELEASE", "amd64", "Latest")
        os.makedirs(d)
        self.name = "FreeBSD-14.2-RELEASE-amd64-BASIC-CI.raw.xz"
        self.xz = lzma.compress(RAW)
        with open(os.path.join(d, self.name), "wb") as f:
            f.write(self.xz)
        self.sumfile = os.path.join(d, "CHECKSUM.SHA256")
        with open(self.sumfile, "w") as f:
            f.write(f"SHA256 ({self.name}) = {hashlib.sha256(self.xz).hexdigest()}\n")
        self.server = Server(os.path.join(self.tmp, "mirror"))
        self.saved = images.MIRROR
        images.MIRROR = self.server.url
        self.cache = os.path.join(self.tmp, "cache")

    def tearDown(self):
        images.MIRROR = self.saved
        self.server.close()
        shutil.rmtree(self.tmp)

    def test_downloaded_verified_decompressed_and_cached(self):
        raw = images.fetch_release_image("14.2", self.cache, progress=None)
        with open(raw, "rb") as f:
            self.assertEqual(f.read(), RAW)
        n = len(self.server.requests)
        self.assertEqual(images.fetch_release_image("14.2", self.cache, progress=None), raw)
        self.assertEqual(len(self.server.requests), n, "the cached image was downloaded again")

    def test_a_corrupt_download_is_refused_and_not_kept(self):
        with open(self.sumfile, "w") as f:
            f.write(f"SHA256 ({self.name}) = {'0' * 64}\n")
        with self.assertRaises(images.ImageError) as e:
            images.fetch_release_image("14.2", self.cache, progress=None)
        self.assertIn("does not match", str(e.exception))
        self.assertFalse(os.path.exists(os.path.join(self.cache, self.name)))
        self.assertFalse(os.path.exists(os.path.join(self.cache, "CHECKSUM.SHA256-14.2")), "the checksums are fetched again next time")

    def test_resolve_prefers_a_local_image_and_says_none_without_one(self):
        local = os.path.join(self.tmp, "local.raw")
        with open(local, "wb") as f:
            f.write(RAW)
        env = os.environ.pop("FREEBSD_IMAGE", None)
        try:
            self.assertEqual(images.resolve(local), local)
            self.assertIsNone(images.resolve(None, None))
            with self.assertRaises(images.ImageError):
                images.resolve(os.path.join(self.tmp, "missing.raw"))
        finally:
            if env is not None:
                os.environ["FREEBSD_IMAGE"] = env


@unittest.skipUnless(shutil.which("qemu-img"), "qemu-img is not installed")
class Overlay(unittest.TestCase):
    def test_overlay_leaves_the_image_alone(self):
        with tempfile.TemporaryDirectory() as d:
            base = os.path.join(d, "base.raw")
            with open(base, "wb") as f:
                f.write(RAW)
            self.assertEqual(images.image_format(base), "raw")
            ov = images.overlay(base, os.path.join(d, "ov.qcow2"), size=64 << 20)
            self.assertEqual(images.virtual_size(ov), 64 << 20)
            big = images.overlay(base, os.path.join(d, "ov2.qcow2"), size=1 << 10)
            self.assertGreaterEqual(images.virtual_size(big), os.path.getsize(base), "never smaller than the image")
            self.assertEqual(images.image_format(ov), "qcow2")
            info = subprocess.run(["qemu-img", "info", ov], capture_output=True, text=True, check=True).stdout
            self.assertIn("backing file: " + base, info)
            with open(base, "rb") as f:
                self.assertEqual(f.read(), RAW)


if __name__ == "__main__":
    unittest.main()
