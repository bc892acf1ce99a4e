"""Tests of the target checks (targets.py) and the ratios they rest on
(figures.pair_ratio), on synthetic results."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import figures, targets  # noqa: E402


def est(mean, lo=None, hi=None, n=3):
    return {"mean": mean, "ci_low": lo, "ci_high": hi, "n": n}


def target(per_sec, vs_first=None, cpu=None):
    t = {"status": "ok", "per_sec": per_sec, "cpu_us_per_unit": cpu, "rounds": []}
    if vs_first:
        t["vs_first"] = {"per_sec": vs_first}
    return t


def results(workloads, rss=None):
    return {"profile": {"rss_connections": 10_000, "quick": False},
            "workloads": workloads, "idle_rss": rss or {}}


def closed(transport, size, targets_, first="ricochet"):
    return {"id": f"closed-{transport}-{size}", "title": f"{transport} {size // 1024} KiB",
            "kind": "closed", "first": first, "targets": targets_}


def by_target(checks, text):
    [c] = [c for c in checks if c["target"].startswith(text)]
    return c


class FloorBesideTargets(unittest.TestCase):
    def setUp(self):
        # ricochet first (the JSON's baseline); the C floor makes only 1.10x
        # the best managed peer (Go), short of the 1.15x target.
        self.w = closed("tcp", 1024, {
            "ricochet": target(120.0, est(1.0, 1.0, 1.0)),
            "epoll_echo": target(110.0, est(110 / 120, 0.90, 0.93)),
            "echo_go": target(100.0, est(100 / 120, 0.80, 0.86)),
            "echo_node": target(50.0, est(50 / 120, 0.40, 0.43)),
        })

    def test_floor_missing_the_target_still_shows_its_ratio(self):
        c = by_target(targets.checks(results([self.w])), "throughput tcp 1 KiB ≥ 1.15× best managed")
        self.assertTrue(c["met"])                     # ricochet: 1.20x Go
        self.assertAlmostEqual(c["ratio"], 1.2)
        self.assertIn("Go net", c["measured"])
        self.assertAlmostEqual(c["floor_ratio"], 1.1)  # the floor's own, against Go too
        self.assertEqual(c["floor"], "1.10× ✗")
        # ricochet over Go: the JSON's interval of Go over ricochet, inverted
        lo, hi = c["ci"]
        self.assertAlmostEqual(lo, 1 / 0.86)
        self.assertAlmostEqual(hi, 1 / 0.80)

    def test_against_the_floor(self):
        c = by_target(targets.checks(results([self.w])), "throughput tcp 1 KiB ≥ 0.95× C epoll")
        self.assertTrue(c["met"])
        self.assertAlmostEqual(c["ratio"], 120 / 110)
        self.assertEqual(c["floor"], "1.00×")

    def test_missed_and_not_measured(self):
        self.w["targets"]["ricochet"]["vs_first"]["per_sec"] = est(1.0, 1.0, 1.0)
        self.w["targets"]["epoll_echo"]["vs_first"]["per_sec"] = est(1.10, 1.05, 1.15)
        c = by_target(targets.checks(results([self.w])), "throughput tcp 1 KiB ≥ 0.95× C epoll")
        self.assertFalse(c["met"])                    # 1 / 1.10 = 0.91 < 0.95
        self.assertIn("contains 0.95", c["detail"])   # 1/1.15 .. 1/1.05 = 0.87 .. 0.95
        del self.w["targets"]["epoll_echo"]
        c = by_target(targets.checks(results([self.w])), "throughput tcp 1 KiB ≥ 0.95× C epoll")
        self.assertIsNone(c["met"])

    def test_larger_messages_ask_only_to_match_managed_peers(self):
        w = closed("unix", 10 * 1024, {
            "ricochet": target(101.0), "epoll_echo": target(99.0), "tokio_echo": target(100.0)})
        c = by_target(targets.checks(results([w])), "throughput unix 10 KiB ≥ 1.00× best managed")
        self.assertTrue(c["met"])
        self.assertIn("tokio example", c["measured"])
        self.assertEqual(c["floor"], "0.99× ✗")
        self.assertIsNone(c["ci"])                    # no JSON ratios stored: no interval

    def test_cpu_and_memory(self):
        w = self.w
        w["targets"]["ricochet"]["cpu_us_per_unit"] = 6.0
        w["targets"]["epoll_echo"]["cpu_us_per_unit"] = 5.0
        rss = {"ricochet": {"status": "ok", "bytes_per_conn": 790},
               "epoll_echo": {"status": "ok", "bytes_per_conn": 2000}}
        checks = targets.checks(results([w], rss))
        cpu = by_target(checks, "server CPU per message")
        self.assertFalse(cpu["met"])                  # 1.2x > 1.05x
        self.assertEqual(cpu["floor"], "1.00×")
        mem = by_target(checks, "memory")
        self.assertTrue(mem["met"])
        self.assertEqual(mem["floor"], "2,000 bytes ✗")

    def test_one_shot_against_the_best_peer(self):
        w = {"id": "one_shot-tcp", "title": "TCP one-shot", "kind": "one_shot", "first": "ricochet",
             "targets": {"ricochet": target(96.0, est(1.0)), "epoll_echo": target(90.0, est(0.9375)),
                         "tokio_echo": target(100.0, est(100 / 96))}}
        c = by_target(targets.checks(results([w])), "one-shot connections/s, TCP")
        self.assertTrue(c["met"])                     # 0.96 >= 0.95
        self.assertAlmostEqual(c["ratio"], 0.96)
        self.assertEqual(c["floor"], "0.90× ✗")


class PairRatio(unittest.TestCase):
    def test_reference_is_the_first_target(self):
        w = {"first": "a", "targets": {"a": target(1.0, est(1.0, 1.0, 1.0)),
                                       "b": target(2.0, est(2.0, 1.5, 2.5))}}
        self.assertEqual(figures.pair_ratio(w, "b", "a"),
                         {"ratio": 2.0, "ci": (1.5, 2.5), "how": "ricochet bench's paired ratios"})

    def test_failed_server(self):
        w = {"targets": {"a": target(1.0), "b": {"status": "failed", "reason": "x"}}}
        self.assertIsNone(figures.pair_ratio(w, "a", "b"))


if __name__ == "__main__":
    unittest.main()
