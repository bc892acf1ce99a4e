"""Tests of compare.py's command line: where a --quick run writes, when the
README block is refreshed, and re-rendering the committed results."""

import json
import os
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import cli, store  # noqa: E402
from harness.util import DEFAULT_OUT, HERE, QUICK_OUT  # noqa: E402

COMMITTED = os.path.join(HERE, "results", "results.json")


class OutputDirectory(unittest.TestCase):
    def test_quick_does_not_default_to_the_committed_results(self):
        out = cli.parse_args(["--quick"]).out
        self.assertNotEqual(out, os.path.abspath(DEFAULT_OUT))
        self.assertEqual(out, os.path.abspath(QUICK_OUT))
        with open(os.path.join(DEFAULT_OUT, ".gitignore")) as f:  # and it is not committed
            self.assertIn("/quick/", f.read().split())

    def test_full_run_and_explicit_out(self):
        self.assertEqual(cli.parse_args([]).out, os.path.abspath(DEFAULT_OUT))
        self.assertEqual(cli.parse_args(["--quick", "--out", "/tmp/x"]).out, "/tmp/x")


@unittest.skipUnless(os.path.exists(COMMITTED), "no committed bench/results/results.json")
class Render(unittest.TestCase):
    def load(self, quick=False):
        with open(COMMITTED) as f:
            results = store.uncolumnar(json.load(f))
        results["profile"]["quick"] = quick
        return results

    def test_rerender_committed_results_without_touching_readme(self):
        with tempfile.TemporaryDirectory() as out, \
                mock.patch("harness.readme.update_readme") as update:
            cli.render(self.load(), out)
            self.assertEqual(sorted(os.listdir(out)), ["chart.svg", "results.json", "results.md"])
            with open(os.path.join(out, "results.md")) as f:
                md = f.read()
            update.assert_not_called()
        self.assertIn("| target | measured | met | C floor's ratio | |", md)
        self.assertIn("≥ 1.15× best managed peer", md)

    def test_readme_only_from_a_full_run_in_bench_results_or_when_asked(self):
        with mock.patch("harness.readme.update_readme") as update, \
                mock.patch("harness.cli.write"), mock.patch("os.makedirs"):
            cli.render(self.load(quick=True), DEFAULT_OUT)
            update.assert_not_called()
            cli.render(self.load(quick=False), DEFAULT_OUT)
            self.assertEqual(update.call_count, 1)
        with tempfile.TemporaryDirectory() as out, \
                mock.patch("harness.readme.update_readme") as update:
            cli.render(self.load(quick=True), out, force_readme=True)
            self.assertEqual(update.call_count, 1)


if __name__ == "__main__":
    unittest.main()
