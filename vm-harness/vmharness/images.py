"""FreeBSD images: a local file, or a release's CI image downloaded into a cache and
checked against the release's published SHA-256 checksums.

The CI images ("BASIC-CI") are what the harness drives: a serial console, and root
logs in there without a password (release/tools/basic-ci.conf in FreeBSD's sources).
Where they live is FreeBSD's download layout; the exact file name is not assumed but
read from the checksum file, which lists every image of the directory.
"""

import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

MIRROR = os.environ.get("FREEBSD_MIRROR", "https://download.freebsd.org")
_CHECKSUM_LINE = re.compile(r"^SHA256 \((?P<name>[^)]+)\) = (?P<sum>[0-9a-fA-F]{64})\s*$")


class ImageError(Exception):
    pass


def release_dir(version, arch="amd64"):
    """The directory of a release's CI images, e.g. version "14.2" or "15.0"."""
    if not re.fullmatch(r"1[45]\.[0-9]+", version):
        raise ImageError(f"FreeBSD version {version!r}: expected 14.x or 15.x")
    return f"{MIRROR}/releases/CI-IMAGES/{version}-RELEASE/{arch}/Latest"


def parse_checksums(text):
    """name -> sha256 from a CHECKSUM.SHA256 file (BSD `sha256` output format)."""
    sums = {}
    for line in text.splitlines():
        m = _CHECKSUM_LINE.match(line.strip())
        if m:
            sums[m.group("name")] = m.group("sum").lower()
    return sums


def pick_image(names):
    """The BASIC-CI raw image among a directory's files: UFS preferred over ZFS."""
    candidates = sorted(n for n in names if "BASIC-CI" in n and n.endswith(".raw.xz"))
    if not candidates:
        raise ImageError("no BASIC-CI .raw.xz image in the checksum file")
    ufs = [n for n in candidates if "zfs" not in n.lower()]
    return (ufs or candidates)[0]


def sha256_of(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _fetch(url, dest, progress):
    try:
        _fetch_once(url, dest, progress)
    except (urllib.error.URLError, TimeoutError) as e:
        raise ImageError(f"downloading {url}: {getattr(e, 'reason', e)}") from None


def _fetch_once(url, dest, progress):
    tmp = dest + ".part"
    with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as out:
        total = int(r.headers.get("Content-Length") or 0)
        done = 0
        last = -1
        while block := r.read(1 << 20):
            out.write(block)
            done += len(block)
            pct = done * 100 // total if total else -1
            if progress and pct != last and pct % 5 == 0:
                progress(f"downloading {os.path.basename(dest)}: {pct}% of {total >> 20} MiB")
                last = pct
    os.replace(tmp, dest)


def fetch_release_image(version, cache, progress=print):
    """Downloads (once) and verifies a release's CI image; returns the path of the
    decompressed raw image in `cache`."""
    os.makedirs(cache, exist_ok=True)
    base = release_dir(version)
    sums_path = os.path.join(cache, f"CHECKSUM.SHA256-{version}")
    if not os.path.exists(sums_path):
        _fetch(f"{base}/CHECKSUM.SHA256", sums_path, None)
    with open(sums_path) as f:
        sums = parse_checksums(f.read())
    try:
        name = pick_image(sums)
    except ImageError:
        os.unlink(sums_path)  # fetched afresh next time
        raise
    xz = os.path.join(cache, name)
    if not os.path.exists(xz) or sha256_of(xz) != sums[name]:
        _fetch(f"{base}/{name}", xz, progress)
        got = sha256_of(xz)
        if got != sums[name]:
            os.unlink(xz)
            os.unlink(sums_path)
            raise ImageError(f"{name}: SHA-256 {got} does not match the release's {sums[name]}")
    return decompress(xz, progress)


def decompress(path, progress=print):
    """`x.raw.xz` -> `x.raw` next to it (once); other files are returned as they are."""
    if not path.endswith(".xz"):
        return path
    raw = path[:-3]
    if os.path.exists(raw) and os.path.getmtime(raw) >= os.path.getmtime(path):
        return raw
    if progress:
        progress(f"decompressing {os.path.basename(path)}")
    tmp = raw + ".part"
    with lzma.open(path) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, raw)
    return raw


def image_format(path):
    """qemu-img's name for the image's format (raw or qcow2), from its first bytes."""
    with open(path, "rb") as f:
        head = f.read(4)
    return "qcow2" if head == b"QFI\xfb" else "raw"


def virtual_size(path):
    info = subprocess.run(["qemu-img", "info", "--output=json", "-f", image_format(path), path],
                          capture_output=True, text=True, check=True).stdout
    return int(json.loads(info)["virtual-size"])


def overlay(base, dest, size=8 << 30):
    """A qcow2 overlay on `base`, so that a run never changes the image itself; at
    least `size` bytes (the CI image's growfs takes the space at boot), never smaller
    than the image."""
    if os.path.exists(dest):
        os.unlink(dest)
    size = max(size, virtual_size(base))
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", image_format(base), "-b", os.path.abspath(base), dest, str(size)],
        check=True,
    )
    return dest


def resolve(image=None, version=None, cache=None, progress=print):
    """The image to boot: FREEBSD_IMAGE (a local file, .xz allowed) or, with a version,
    the release's CI image from the cache or the network. None when neither is given."""
    image = image or os.environ.get("FREEBSD_IMAGE")
    if image:
        if not os.path.isfile(image):
            raise ImageError(f"{image}: no such file")
        return decompress(image, progress)
    if version:
        return fetch_release_image(version, cache or default_cache(), progress)
    return None


def default_cache():
    return os.environ.get("FREEBSD_IMAGE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "linuxaio-vm"
    )
