"""The payload a FreeBSD guest runs: the modules, Linux programs that need nothing from
the guest, and the guest runner. Assembled on a Linux machine from the project's build
and Debian's packages, then put on an ISO 9660 (Rock Ridge) image.

Layout (the guest copies it to a writable place and runs run.sh there):
    run.sh, payload-id, fio-jobs.txt, manifest.txt, differences.txt, harness-differences.txt
    modules/freebsd14/linuxaio.ko, modules/freebsd15/linuxaio.ko
    bin/conformance/<program>     expected/<program>.txt (its output natively on Linux)
    bin/harness/cases/<n>.p       (libaio's harness, the cases Debian runs)
    bin/fio, bin/hold_context
    linux/                        every library those programs load, at its Linux path,
                                  with the dynamic loader: the guest's compat.linux.emul_path
"""

import datetime
import os
import re
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
_LDD = re.compile(r"^\s*(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)\s*$")


# The ISO's volume label: the guest finds the CD as /dev/iso9660/<label>.
LABEL = "LINUXAIO"


class PayloadError(Exception):
    pass


def ldd_paths(binary, ldd="ldd"):
    """The absolute paths of the shared objects `binary` loads (loader included), as
    ldd prints them. A static binary needs none."""
    r = subprocess.run([ldd, binary], capture_output=True, text=True)
    if r.returncode != 0:
        if "not a dynamic executable" in (r.stdout + r.stderr):
            return []
        raise PayloadError(f"ldd {binary}: {r.stderr.strip() or r.stdout.strip()}")
    paths = []
    for line in r.stdout.splitlines():
        if "=> not found" in line:
            raise PayloadError(f"{binary}: {line.strip()}")
        m = _LDD.match(line)
        if m:
            paths.append(m.group(1))
    return paths


def add_libraries(tree, binaries, ldd="ldd"):
    """Copies every library the binaries load into `tree` at its own path (the file's
    content, symlinks followed). Returns the paths added."""
    added = set()
    for b in binaries:
        for path in ldd_paths(b, ldd):
            dest = os.path.join(tree, path.lstrip("/"))
            if path in added:
                continue
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(os.path.realpath(path), dest)
            os.chmod(dest, 0o755)
            added.add(path)
    return sorted(added)


def compile_c(source, out, extra=()):
    subprocess.run(["cc", "-O2", "-Wall", "-pthread", "-o", out, source, *extra], check=True)
    return out


def native_rules(program):
    """A conformance program's output natively on this Linux machine (the oracle)."""
    r = subprocess.run([program], capture_output=True, text=True, timeout=300, cwd="/tmp")
    if r.returncode != 0:
        raise PayloadError(f"{program} failed natively ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def payload_id():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = ""
    return f"linuxaio {rev or 'unknown'} {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"


def assemble(out, build=None, harness_dir=None, fio=None, progress=print):
    """Assembles the payload directory `out` (emptied first). `build` holds
    freebsd14/ and freebsd15/ with linuxaio.ko; `harness_dir` is libaio's built harness
    (tests/thirdparty/libaio-harness.sh builds it). `fio` defaults to the newer fio
    tests/thirdparty/fio-build.sh builds (the vectored job needs it), else Debian's.
    Missing optional parts (the harness, fio) are left out and listed in manifest.txt."""
    out = os.path.abspath(out)
    build = build or os.path.join(ROOT, "build")
    if fio is None:
        built = os.path.join(build, "thirdparty", "fio-new", "fio")
        fio = built if os.access(built, os.X_OK) else "/usr/bin/fio"
    if harness_dir is None:
        harness_dir = os.path.join(build, "thirdparty", "libaio-src", "harness")
    if os.path.exists(out):
        shutil.rmtree(out)
    for d in ("modules", "bin/conformance", "bin/harness/cases", "expected", "linux"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    manifest = []
    for major in (14, 15):
        ko = os.path.join(build, f"freebsd{major}", "linuxaio.ko")
        if not os.path.isfile(ko):
            raise PayloadError(f"{ko}: not built (run make)")
        os.makedirs(os.path.join(out, "modules", f"freebsd{major}"), exist_ok=True)
        shutil.copyfile(ko, os.path.join(out, "modules", f"freebsd{major}", "linuxaio.ko"))
        manifest.append(f"module freebsd{major} {os.path.getsize(ko)} bytes")
    shutil.copyfile(os.path.join(HERE, "..", "guest", "run.sh"), os.path.join(out, "run.sh"))
    shutil.copyfile(os.path.join(ROOT, "tests", "thirdparty", "fio-jobs.txt"), os.path.join(out, "fio-jobs.txt"))
    shutil.copyfile(os.path.join(ROOT, "tests", "conformance", "differences.txt"), os.path.join(out, "differences.txt"))
    shutil.copyfile(os.path.join(ROOT, "tests", "thirdparty", "libaio-harness-differences.txt"), os.path.join(out, "harness-differences.txt"))
    linux_programs = []

    conf_dir = os.path.join(ROOT, "tests", "conformance")
    for src in sorted(f for f in os.listdir(conf_dir) if f.endswith(".c")):
        name = src[:-2]
        exe = compile_c(os.path.join(conf_dir, src), os.path.join(out, "bin", "conformance", name))
        progress(f"payload: conformance program {name}, and its output natively")
        with open(os.path.join(out, "expected", name + ".txt"), "w") as f:
            f.write(native_rules(exe))
        linux_programs.append(exe)
        manifest.append(f"conformance {name}")
    hold = compile_c(os.path.join(HERE, "..", "guest", "hold_context.c"), os.path.join(out, "bin", "hold_context"))
    linux_programs.append(hold)

    cases = os.path.join(harness_dir, "cases")
    if os.path.isdir(cases):
        for c in sorted(f for f in os.listdir(cases) if f.endswith(".p")):
            dest = os.path.join(out, "bin", "harness", "cases", c)
            shutil.copyfile(os.path.join(cases, c), dest)
            os.chmod(dest, 0o755)
            linux_programs.append(dest)
            manifest.append(f"harness {c}")
    else:
        manifest.append("harness: absent (libaio's harness was not built)")
    if fio and os.path.isfile(fio):
        dest = os.path.join(out, "bin", "fio")
        shutil.copyfile(fio, dest)
        os.chmod(dest, 0o755)
        linux_programs.append(dest)
        version = subprocess.run([fio, "--version"], capture_output=True, text=True).stdout.strip()
        manifest.append(f"fio {version}")
    else:
        manifest.append("fio: absent")
    libs = add_libraries(os.path.join(out, "linux"), linux_programs)
    manifest += [f"linux {p}" for p in libs]
    with open(os.path.join(out, "payload-id"), "w") as f:
        f.write(payload_id() + "\n")
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    return out


def make_iso(directory, iso, label=LABEL):
    """An ISO 9660 image with Rock Ridge (permissions kept) of `directory`: with
    xorriso (Debian's package) or, on FreeBSD, the base system's makefs."""
    if shutil.which("xorriso"):
        subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-r", "-V", label, "-o", iso, directory], check=True)
    elif shutil.which("makefs"):
        subprocess.run(["makefs", "-t", "cd9660", "-o", "rockridge", "-o", f"label={label}", iso, directory], check=True)
    else:
        raise PayloadError("neither xorriso (Debian package xorriso) nor makefs (FreeBSD) is installed")
    return iso


def expected_rules(directory):
    """program -> {rule: value}: the native outputs recorded in a payload."""
    from .results import parse_rules_file

    out = {}
    exp = os.path.join(directory, "expected")
    for f in sorted(os.listdir(exp)):
        if f.endswith(".txt"):
            with open(os.path.join(exp, f)) as fh:
                out[f[:-4]] = parse_rules_file(fh.read())
    return out
