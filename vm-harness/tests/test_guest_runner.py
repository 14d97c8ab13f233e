"""guest/run.sh, the guest runner, on Linux with FreeBSD's commands replaced by stubs
(kldload, kldunload, kldstat, sysctl, vmstat, dmesg, uname) and a stand-in payload
(shell scripts in place of the Linux programs).

What it shows: the runner's control flow, the marker lines and counts it prints for
passing, failing, skipped and timed-out programs, that it reports the conformance
rules, and that it checks the refused unload while a context is held.
Does not prove: anything about FreeBSD itself (the stubs answer as the authors expect
FreeBSD to), nor that the real programs run under the Linuxulator."""

import os
import shutil
import stat
import subprocess
import tempfile
import textwrap
import unittest

from vmharness import results

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_SH = os.path.join(HERE, "..", "guest", "run.sh")


def script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + textwrap.dedent(body))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class GuestRunner(unittest.TestCase):
    def run_guest(self, unload_refused=True):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp, True)
        stubs, p, out = os.path.join(tmp, "stubs"), os.path.join(tmp, "payload"), os.path.join(tmp, "out")
        for d in (stubs, p + "/modules/freebsd15", p + "/bin/conformance", p + "/bin/harness/cases", p + "/linux"):
            os.makedirs(d)
        held = os.path.join(tmp, "held")
        script(f"{stubs}/uname", 'case "$1" in -r) echo 15.0-RELEASE ;; *) echo "FreeBSD guest 15.0-RELEASE amd64" ;; esac\n')
        script(f"{stubs}/kldload", f'printf "%s\\n" "$*" >> {tmp}/kldload.calls\n')
        script(f"{stubs}/kldstat", "echo 'Id Refs Address Size Name'; echo ' 5 1 0xffff 1000 linuxaio.ko'\n")
        busy = "1" if unload_refused else "0"
        script(f"{stubs}/kldunload", f'if [ -e {held} ] && [ {busy} = 1 ]; then echo "kldunload: can\'t unload file: Device busy" >&2; exit 1; fi\n')
        script(f"{stubs}/sysctl", 'case "$*" in *osreldate*) echo 1500068 ;; *ncpu*) echo 2 ;; *) echo "$*" ;; esac\n')
        script(f"{stubs}/vmstat", "echo 'linuxaio 0 0K - 12 64'\n")
        script(f"{stubs}/dmesg", "echo linuxaio: loaded\n")
        with open(f"{p}/modules/freebsd15/linuxaio.ko", "w") as f:
            f.write("module")
        with open(f"{p}/payload-id", "w") as f:
            f.write("test-payload\n")
        with open(f"{p}/fio-jobs.txt", "w") as f:
            f.write("# comment\nok|--rw=randwrite\nbad|--rw=randread\nold|--libaio_vectored=1\n")
        script(f"{p}/bin/conformance/prog_a", "echo rule_one=0; echo rule_two=-22; echo noise\n")
        script(f"{p}/bin/conformance/prog_b", "echo only=1; exit 4\n")
        script(f"{p}/bin/harness/cases/2.p", "exit 0\n")
        script(f"{p}/bin/harness/cases/10.p", "exit 1\n")
        script(f"{p}/bin/harness/cases/21.p", "exit 3\n")
        script(f"{p}/bin/fio", """\
            case "$*" in
            *libaio_vectored*) echo "fio: unrecognized option '--libaio_vectored=1'"; exit 1 ;;
            *randread*) echo "  read: IOPS=1, err= 5: verify: bad magic"; exit 0 ;;
            *) echo "  write: IOPS=100"; exit 0 ;;
            esac
            """)
        script(f"{p}/bin/hold_context", f"touch {held}; trap 'rm -f {held}; exit 0' TERM; while :; do sleep 0.1; done\n")
        env = dict(os.environ, PATH=f"{stubs}:{os.environ['PATH']}")
        r = subprocess.run(["sh", RUN_SH, p, out], capture_output=True, text=True, env=env, timeout=60)
        with open(os.path.join(out, "results.txt")) as f:
            kept = f.read()
        return r, results.parse(r.stdout), kept, tmp

    def test_results_rules_and_counts(self):
        r, report, kept, tmp = self.run_guest()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(report.payload_id, "test-payload")
        got = {(x.suite, x.name): x.status for x in report.results}
        self.assertEqual(got, {
            ("load", "linux64"): "PASS", ("load", "linuxaio"): "PASS",
            ("conformance", "prog_a"): "PASS", ("conformance", "prog_b"): "FAIL",
            ("harness", "2"): "PASS", ("harness", "10"): "FAIL", ("harness", "21"): "SKIP",
            ("fio", "ok"): "PASS", ("fio", "bad"): "FAIL", ("fio", "old"): "SKIP",
            ("unload", "refused-while-held"): "PASS", ("unload", "linuxaio"): "PASS",
        })
        self.assertEqual([x.name for x in report.results if x.suite == "harness"], ["2", "10", "21"], "cases in numeric order")
        self.assertEqual(report.rules, {"prog_a": {"rule_one": "0", "rule_two": "-22"}, "prog_b": {"only": "1"}})
        self.assertEqual(report.end, (7, 3, 2))
        self.assertEqual(results.parse(kept).end, report.end, "results.txt keeps the same lines")
        with open(os.path.join(tmp, "kldload.calls")) as f:
            calls = f.read().split("\n")
        self.assertEqual(calls[0], "-n linux64")
        self.assertTrue(calls[1].endswith("/modules/freebsd15/linuxaio.ko"))

    def test_an_unload_that_should_have_been_refused(self):
        _, report, _, _ = self.run_guest(unload_refused=False)
        got = {(x.suite, x.name): x.status for x in report.results}
        self.assertEqual(got[("unload", "refused-while-held")], "FAIL")


if __name__ == "__main__":
    unittest.main()
