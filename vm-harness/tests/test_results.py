"""The console report parser and the judging of a run.

Does not prove: that a real FreeBSD console looks like these samples (the samples are
written from what guest/run.sh prints, with kernel messages cutting into lines)."""

import os
import unittest

from vmharness import results

LOG = """\
FreeBSD/amd64 (freebsd) (ttyu0)

login: root
root@freebsd:~ # sh /root/payload/run.sh
@@LINUXAIO@@ BEGIN linuxaio 1b5d490 2026-12-03T07:00:00Z
@@LINUXAIO@@ INFO uname FreeBSD freebsd 14.2-RELEASE FreeBSD 14.2-RELEASE amd64
@@LINUXAIO@@ RESULT load linux64 PASS 0
linuxaio: installed io_setup ... @@LINUXAIO@@ RESULT load linuxaio PASS 1 Id Refs Address
@@LINUXAIO@@ RULE setup_destroy setup_ok=0
@@LINUXAIO@@ RULE setup_destroy ring_nr=127
@@LINUXAIO@@ RULE submit_events submit=1
@@LINUXAIO@@ RESULT conformance setup_destroy PASS 2 exit 0
@@LINUXAIO@@ RESULT harness 16 FAIL 3 exit 1
@@LINUXAIO@@ RESULT harness 21 SKIP 0 exit 3
@@LINUXAIO@@ RESULT fio qd512 TIMEOUT 300 exit 124
@@LINUXAIO@@ RESULT bogus line
@@LINUXAIO@@ RESULT fio x MAYBE 3
@@LINUXAIO@@ END 3 2 1
"""


class Parse(unittest.TestCase):
    def test_markers_anywhere_in_a_line_and_bad_lines_ignored(self):
        r = results.parse(LOG)
        self.assertEqual(r.payload_id, "linuxaio 1b5d490 2026-12-03T07:00:00Z")
        self.assertTrue(r.info["uname"].startswith("FreeBSD freebsd 14.2"))
        self.assertEqual([(x.suite, x.name, x.status) for x in r.results],
                         [("load", "linux64", "PASS"), ("load", "linuxaio", "PASS"), ("conformance", "setup_destroy", "PASS"),
                          ("harness", "16", "FAIL"), ("harness", "21", "SKIP"), ("fio", "qd512", "TIMEOUT")])
        self.assertEqual(r.rules["setup_destroy"], {"setup_ok": "0", "ring_nr": "127"})
        self.assertEqual(r.end, (3, 2, 1))
        self.assertEqual([x.name for x in r.failures()], ["16", "qd512"])

    def test_a_log_without_end_is_incomplete(self):
        r = results.parse(LOG.replace("@@LINUXAIO@@ END 3 2 1\n", ""))
        self.assertFalse(r.complete)
        self.assertEqual(results.verdict(r, []), 1)
        self.assertIn("did not finish", results.table(r, []))

    def test_carriage_returns_from_a_serial_console(self):
        r = results.parse(LOG.replace("\n", "\r\n"))
        self.assertEqual(r.end, (3, 2, 1))
        self.assertEqual(r.rules["setup_destroy"]["ring_nr"], "127")


class Rules(unittest.TestCase):
    def test_rules_compared_with_linux_but_for_the_allowed_differences(self):
        r = results.parse(LOG)
        expected = {"setup_destroy": {"setup_ok": "0", "ring_nr": "127"}, "submit_events": {"submit": "1", "magic": "2702577825"}}
        out = {x.name: x for x in results.compare_rules(r, expected, set())}
        self.assertEqual(out["setup_destroy"].status, "PASS")
        self.assertEqual(out["submit_events"].status, "FAIL")
        self.assertIn("magic", out["submit_events"].detail)
        out = {x.name: x for x in results.compare_rules(r, expected, {"magic"})}
        self.assertEqual(out["submit_events"].status, "PASS")

    def test_a_program_that_reported_nothing_fails(self):
        out = results.compare_rules(results.parse(""), {"pgetevents_mask": {"a": "1"}}, set())
        self.assertEqual((out[0].status, out[0].detail), ("FAIL", "no rules reported"))

    def test_differences_file(self):
        text = "# comment\nrule_a   reason words\n\nrule_b other\n"
        self.assertEqual(results.parse_differences(text), {"rule_a", "rule_b"})

    def test_a_garbled_failure_is_not_a_pass(self):
        # A kernel message cut the FAIL line in two: the guest counted 1 failure.
        log = ("@@LINUXAIO@@ RESULT load linuxaio PASS 1\n@@LINUXAIO@@ RESULT conformance q FA"
               "linuxaio: message\nIL 2 exit 1\n@@LINUXAIO@@ END 1 1 0\n")
        r = results.parse(log)
        self.assertEqual(len(r.results), 1)
        self.assertEqual(results.verdict(r, []), 1)
        # Counts that do not add up to what was read fail too.
        r = results.parse("@@LINUXAIO@@ RESULT load linuxaio PASS 1\n@@LINUXAIO@@ END 2 0 0\n")
        self.assertEqual(results.verdict(r, []), 1)

    def test_listed_harness_differences_are_allowed_and_nothing_else(self):
        text = "# case outcome rule\n16      FAIL     poll_resfd   words\n21 SKIP rwf_nowait_submit\n"
        allowed = results.parse_harness_differences(text)
        self.assertEqual(allowed, {"16": "FAIL", "21": "SKIP"})
        log = ("@@LINUXAIO@@ RESULT load linuxaio PASS 1\n@@LINUXAIO@@ RESULT harness 16 FAIL 2 exit 134\n"
               "@@LINUXAIO@@ END 1 1 0\n")
        r = results.parse(log)
        self.assertEqual(results.verdict(r, []), 1)
        self.assertEqual(results.verdict(r, [], allowed), 0)
        self.assertIn("listed difference", results.table(r, [], allowed))
        # Another outcome than the listed one, or another case, is not allowed.
        r = results.parse(log.replace("harness 16 FAIL 2", "harness 16 TIMEOUT 300"))
        self.assertEqual(results.verdict(r, [], allowed), 1)
        r = results.parse(log.replace("harness 16 FAIL", "harness 17 FAIL"))
        self.assertEqual(results.verdict(r, [], allowed), 1)
        # The guest's own count of failures must still match what was read.
        r = results.parse(log.replace("END 1 1 0", "END 2 0 0"))
        self.assertEqual(results.verdict(r, [], allowed), 1)

    def test_the_repositorys_list_parses(self):
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "..", "..", "tests", "thirdparty", "libaio-harness-differences.txt")) as f:
            allowed = results.parse_harness_differences(f.read())
        self.assertEqual(allowed.get("16"), "FAIL")
        self.assertTrue(all(v in results.STATUSES for v in allowed.values()))

    def test_verdict(self):
        ok = results.parse("@@LINUXAIO@@ RESULT load linuxaio PASS 1\n@@LINUXAIO@@ END 1 0 0\n")
        self.assertEqual(results.verdict(ok, []), 0)
        self.assertEqual(results.verdict(ok, [results.Result("rules", "x", "FAIL", 0)]), 1)


if __name__ == "__main__":
    unittest.main()
