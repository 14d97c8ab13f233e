"""Benchmark mode's reporting: fio's JSON (from real fio runs here, natively on Linux,
with the three engines) turned into rows, a table and a plot.

Does not prove: anything about FreeBSD's numbers; the figures here are this Linux
machine's and are only used as input."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from vmharness import bench


@unittest.skipUnless(shutil.which("fio"), "fio is not installed (make test installs it)")
class FromFio(unittest.TestCase):
    def test_rows_table_and_plot(self):
        with tempfile.TemporaryDirectory() as d:
            files = []
            for engine, depth in (("libaio", 8), ("posixaio", 8), ("psync", 1)):
                out = os.path.join(d, f"bench-{engine}-file.json")
                subprocess.run(["fio", f"--name={engine}", f"--filename={d}/data", "--size=8m", "--bs=4k", "--rw=randread",
                                f"--ioengine={engine}", f"--iodepth={depth}", "--time_based", "--runtime=1",
                                "--output-format=json", f"--output={out}"], check=True, capture_output=True)
                files.append(out)
            rows = bench.rows_from_files(files)
            self.assertEqual([r["engine"] for r in rows], ["libaio", "posixaio", "psync"])
            for r in rows:
                self.assertGreater(r["iops"], 0)
                self.assertGreater(r["ios"], 0)
                self.assertIsNotNone(r["p99_us"])
                self.assertIsNotNone(r["sys_us_per_io"])
            t = bench.table(rows)
            self.assertEqual(len(t.splitlines()), 5)
            written = bench.plot(rows, os.path.join(d, "plot"))
            with open(written[0]) as f:
                svg = f.read()
            self.assertTrue(svg.startswith("<svg") and svg.count("<rect") == 3)


class Arithmetic(unittest.TestCase):
    def test_cpu_per_io_and_percentile(self):
        doc = {"fio version": "fio-3.33", "jobs": [{"sys_cpu": 50.0, "read": {"total_ios": 1000, "iops": 500.0, "runtime": 2000,
                                                                             "clat_ns": {"percentile": {"99.000000": 25000}}},
                                                    "write": {"total_ios": 0}}]}
        r = bench.row_from_fio(json.loads(json.dumps(doc)), "libaio", "md")
        self.assertEqual(r["p99_us"], 25.0)
        # 50 % of 2 s is 1 s of system CPU over 1000 I/Os: 1000 µs each.
        self.assertAlmostEqual(r["sys_us_per_io"], 1000.0)


if __name__ == "__main__":
    unittest.main()
