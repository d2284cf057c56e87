#!/usr/bin/env python3
"""Tests of perf/worker_load.py (natgw's worker load over a benchmark run) and of the report
section bench_report.py builds from it."""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_report  # noqa: E402
import worker_load  # noqa: E402

HZ = 1000  # cycles per second in these samples


def sample_file(lines):
    f = tempfile.NamedTemporaryFile("w", suffix=".load", delete=False)
    f.write("".join(lines))
    f.close()
    return f.name


class WorkerLoadTest(unittest.TestCase):
    def samples(self, lines):
        p = sample_file(lines)
        self.addCleanup(os.unlink, p)
        return p

    def test_busy_share_over_the_measured_seconds_only(self):
        # Idle before the run (t < 100), 75 % busy from 100 to 110, idle again after.
        lines, busy, total = [], 0, 0
        for i in range(0, 240):
            t = 90 + i * 0.1
            lines.append(f"{t:.3f} {busy} {total}\n")
            total += HZ // 10
            if 100 <= t < 110:
                busy += 3 * HZ // 40
        p = self.samples(lines)
        b = worker_load.busy_of_run(p, {"start_unix": 100.0, "seconds": 10.0})
        self.assertAlmostEqual(b, 0.75, places=2)
        # The same samples against a window of the idle time after the run.
        self.assertEqual(worker_load.busy_of_run(p, {"start_unix": 111.0, "seconds": 5.0}), 0.0)

    def test_all_workers_together(self):
        # Worker 0 always busy, worker 1 never: half of all loop time.
        p = self.samples([f"{100 + i} {i * HZ} {i * HZ} 0 {i * HZ}\n" for i in range(12)])
        self.assertAlmostEqual(worker_load.busy_of_run(p, {"start_unix": 100, "seconds": 11}), 0.5)

    def test_no_answer_without_two_samples_inside_the_window(self):
        p = self.samples([f"{100 + i * 5} {i} {i * HZ}\n" for i in range(3)])  # 100, 105, 110
        self.assertIsNone(worker_load.busy_of_run(p, {"start_unix": 101, "seconds": 5}))
        self.assertIsNone(worker_load.busy_of_run(p, {"start_unix": 0, "seconds": 5}))
        self.assertIsNone(worker_load.busy_of_run(p, {"seconds": 5}))
        self.assertIsNone(worker_load.busy_of_run("/nonexistent.load",
                                                  {"start_unix": 100, "seconds": 10}))

    def test_unreadable_lines_are_skipped(self):
        p = self.samples(["garbage\n", "100.0 0 0\n", "101.0 x 5\n", "101.5 1 2 3\n",
                          "102.0 500 1000\n"])
        self.assertEqual(worker_load.read_samples(p), [(100.0, [(0, 0)]),
                                                       (102.0, [(500, 1000)])])
        self.assertAlmostEqual(worker_load.busy_of_run(p, {"start_unix": 99, "seconds": 4}), 0.5)

    def test_telemetry_answers(self):
        reply = {"/natgw/workers": {"count": 2, "tsc_hz": 10,
                                    "0": {"busy_cycles": 5, "total_cycles": 9, "busy_ppm": 1},
                                    "1": {"busy_cycles": 7, "total_cycles": 8, "busy_ppm": 1}}}
        self.assertEqual(worker_load.parse_sample(reply), [(5, 9), (7, 8)])
        # What natgw answers before its dataplane runs.
        self.assertIsNone(worker_load.parse_sample({"/natgw/workers": {"running": 0}}))
        self.assertIsNone(worker_load.parse_sample({"/natgw/workers": None}))
        self.assertIsNone(worker_load.parse_sample({"/natgw/workers": {"count": 0}}))
        self.assertIsNone(worker_load.parse_sample({"/natgw/workers": {"count": 1}}))


class ReportTest(unittest.TestCase):
    def run_dir(self, busy_1m, natgw_mpps=2.0, xfer=None):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        os.mkdir(os.path.join(d, "runs"))
        for name, busy, mpps in (("natgw-1m", busy_1m, natgw_mpps), ("ceiling-1m", None, 3.0)):
            r = {"mode": "udp", "flows": 1048576, "rate_pps": 0, "seconds": 10.0,
                 "start_unix": 1000.0, "error": "", "invalid_total": 0, "invalid": {},
                 "latency_us": {"samples": 0},
                 "tcp": {"cps": 0}}
            for dirn in ("in2out", "out2in"):
                r[dirn] = {"delivered_pps": mpps * 1e6, "offered_pps": mpps * 1e6,
                           "loss_ratio": 0.0}
            with open(os.path.join(d, "runs", f"{name}-1.json"), "w") as f:
                json.dump(r, f)
            if xfer and name in xfer:  # scripts/bench.sh: core_transfer before and after
                with open(os.path.join(d, "runs", f"{name}-1.xfer"), "w") as f:
                    f.write(xfer[name])
            if busy is not None:
                with open(os.path.join(d, "runs", f"{name}-1.load"), "w") as f:
                    f.writelines(f"{1000 + i} {int(i * busy * HZ)} {i * HZ}\n" for i in range(11))
        return d

    def section(self, busy_1m, natgw_mpps=2.0):
        d = self.run_dir(busy_1m, natgw_mpps)
        rounds = bench_report.load_rounds(os.path.join(d, "runs"))
        s = {n: bench_report.summarize(rs) for n, rs in bench_report.runs_of(rounds).items()}
        self.assertIsNone(s["ceiling-1m"]["natgw_busy"])  # testpmd: nothing sampled
        met = {w: m for w, _, _, m in bench_report.targets(s, rounds)}
        return s, "\n".join(bench_report.load_lines(s, met))

    def test_an_unsaturated_natgw_that_missed_the_target_is_said_to_have_waited(self):
        s, text = self.section(0.6)  # 2.0 / 3.0 Mpps: 0.67x, missed
        self.assertAlmostEqual(s["natgw-1m"]["natgw_busy"], 0.6, places=2)
        self.assertIn("| natgw-1m | 60% | 0.60 |", text)
        self.assertIn("natgw-1m: natgw's worker was busy 60% of the time", text)

    def test_a_saturated_natgw_is_not(self):
        _, text = self.section(0.99)
        self.assertIn("| natgw-1m | 99% | 0.99 |", text)
        self.assertNotIn("was busy", text)

    def test_nothing_to_explain_when_the_target_was_met(self):
        _, text = self.section(0.6, natgw_mpps=2.7)  # 0.9x
        self.assertIn("| natgw-1m | 60% |", text)
        self.assertNotIn("was busy", text)

    def test_no_section_without_samples(self):
        s, text = self.section(None)
        self.assertIsNone(s["natgw-1m"]["natgw_busy"])
        self.assertEqual(text, "")


class CoreTransferReportTest(unittest.TestCase):
    run_dir = ReportTest.run_dir

    def core_section(self, xfer):
        d = self.run_dir(0.6, 2.0, xfer)
        rounds = bench_report.load_rounds(os.path.join(d, "runs"))
        s = {n: bench_report.summarize(rs) for n, rs in bench_report.runs_of(rounds).items()}
        return "\n".join(bench_report.core_lines(s, rounds))

    def test_each_run_with_its_transfers(self):
        text = self.core_section({"natgw-1m": "52.4\n240.9\n", "ceiling-1m": "61.0\n-\n"})
        self.assertIn("## Cross-core transfers", text)
        self.assertIn("| natgw-1m | 2.00 (52 / 241) |", text)
        self.assertIn("| ceiling-1m | 3.00 (61 / -) |", text)  # the failed probe
        self.assertNotIn("round(s) with every transfer", text)  # one was far

    def test_ratio_over_close_rounds(self):
        text = self.core_section({"natgw-1m": "52\n60\n", "ceiling-1m": "61\n58\n"})
        self.assertIn("over the 1 round(s) with every transfer under 120 ns: 0.67", text)

    def test_a_failed_probe_is_not_close(self):
        text = self.core_section({"natgw-1m": "52\n-\n", "ceiling-1m": "61\n58\n"})
        self.assertIn("| natgw-1m | 2.00 (52 / -) |", text)
        self.assertNotIn("round(s) with every transfer", text)

    def test_close_rounds_in_results_json(self):
        d = self.run_dir(0.6, 2.0, {"natgw-1m": "52\n60\n", "ceiling-1m": "61\n58\n"})
        import subprocess
        subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "bench_report.py"), d, "--rounds", "1"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "results.json")) as f:
            close = json.load(f)["natgw_vs_ceiling_close_rounds"]
        self.assertEqual([c["direction"] for c in close], ["in2out", "out2in"])
        for c in close:
            self.assertAlmostEqual(c["round_ratio"], 2.0 / 3.0)
            self.assertEqual(c["rounds"], 1)

    def test_a_run_without_a_figure(self):
        text = self.core_section({"natgw-1m": "52\n60\n"})
        self.assertIn("| natgw-1m | 2.00 (52 / 60) |", text)
        self.assertNotIn("ceiling-1m |", text)  # a scenario never probed (OVS, the kernel)
        self.assertNotIn("round(s) with every transfer", text)  # the ceiling's unknown

    def test_no_section_without_figures(self):
        self.assertEqual(self.core_section(None), "")
        self.assertEqual(self.core_section({"natgw-1m": "-\n-\n"}), "")


if __name__ == "__main__":
    unittest.main()
