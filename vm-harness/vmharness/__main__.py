"""Command line: python3 -m vmharness {run,payload,bench} ... (run from vm-harness/)."""

import argparse
import os
import sys

from . import bench, images, payload, run


def main(argv=None):
    ap = argparse.ArgumentParser(prog="vmharness", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="boot FreeBSD with the payload and run the tests")
    r.add_argument("--out", default=os.path.join(payload.ROOT, "build", "vm"))
    r.add_argument("--image", help="a local FreeBSD image (default: $FREEBSD_IMAGE)")
    r.add_argument("--version", default=os.environ.get("FREEBSD_VERSION"), help="download this release's CI image (14.x, 15.x)")
    r.add_argument("--cpus", type=int)
    r.add_argument("--boot-timeout", type=int, default=int(os.environ.get("VM_BOOT_TIMEOUT", 900)))
    r.add_argument("--run-timeout", type=int, default=int(os.environ.get("VM_RUN_TIMEOUT", 5400)))
    p = sub.add_parser("payload", help="assemble the payload directory and its ISO image")
    p.add_argument("--out", default=os.path.join(payload.ROOT, "build", "vm", "payload"))
    p.add_argument("--iso")
    b = sub.add_parser("bench", help="fio libaio (Linux, through linuxaio) against posixaio and psync (FreeBSD) in the guest")
    b.add_argument("--out", default=os.path.join(payload.ROOT, "build", "vm-bench"))
    b.add_argument("--image")
    b.add_argument("--version", default=os.environ.get("FREEBSD_VERSION"))
    b.add_argument("--from-json", nargs="+", help="only make the table and plot from fio JSON files already collected")
    a = ap.parse_args(argv)

    if a.cmd == "payload":
        payload.assemble(a.out)
        if a.iso:
            payload.make_iso(a.out, a.iso)
        return 0
    if a.cmd == "bench" and a.from_json:
        rows = bench.rows_from_files(a.from_json)
        print(bench.table(rows))
        print(bench.plot(rows, os.path.join(a.out, "bench")))
        return 0
    try:
        image = images.resolve(a.image, a.version)
    except (images.ImageError, OSError) as e:
        # An image was asked for and could not be had: a failure, not "no image here".
        print(f"vm-test: {e}", file=sys.stderr)
        print(run.NO_IMAGE_TEXT.format(cache=images.default_cache()), file=sys.stderr)
        return run.BROKEN
    if image is None:
        print(run.NO_IMAGE_TEXT.format(cache=images.default_cache()), file=sys.stderr)
        return run.NO_IMAGE
    if a.cmd == "run":
        status, _ = run.run(a.out, image, cpus=a.cpus, boot_timeout=a.boot_timeout, run_timeout=a.run_timeout)
        return status
    status, _ = bench.run(a.out, image)
    return status


if __name__ == "__main__":
    sys.exit(main())
