"""Every helper script under bench/ answers -h and --help with usage and
exit status 0, quickly, without starting any work: no files appear, and
none of the tools real work would run (cargo, apt-get, compilers, servers)
is called. Those tools are replaced by stubs on PATH that leave a mark."""

import os
import subprocess
import sys
import tempfile
import unittest

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = ["compare.py", "idle_rss.py", "stuck_rss.py", "peers/check_peers.py",
           "run-bench.sh", "install-peers.sh"]
TOOLS = ["cargo", "apt-get", "sudo", "go", "gcc", "cc", "node", "socat", "taskset", "strace", "git"]


def tree(root):
    """Every file under root, with its modification time."""
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for f in files:
            p = os.path.join(d, f)
            out[p] = os.stat(p).st_mtime_ns
    return out


class Help(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.cwd = os.path.join(self.tmp.name, "cwd")
        stubs = os.path.join(self.tmp.name, "stubs")
        self.marks = os.path.join(self.tmp.name, "marks")
        for d in (self.cwd, stubs, self.marks):
            os.mkdir(d)
        for tool in TOOLS:
            path = os.path.join(stubs, tool)
            with open(path, "w") as f:
                f.write(f'#!/bin/sh\ntouch "{self.marks}/{tool}"\nexit 1\n')
            os.chmod(path, 0o755)
        self.env = {**os.environ, "PATH": stubs + os.pathsep + os.environ.get("PATH", ""),
                    "PYTHONDONTWRITEBYTECODE": "1"}

    def test_help(self):
        before = tree(BENCH)
        for script in SCRIPTS:
            path = os.path.join(BENCH, script)
            cmd = [sys.executable, path] if script.endswith(".py") else ["bash", path]
            for flag in ("-h", "--help"):
                with self.subTest(script=script, flag=flag):
                    p = subprocess.run(cmd + [flag], cwd=self.cwd, env=self.env, capture_output=True,
                                       text=True, timeout=10, stdin=subprocess.DEVNULL)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertRegex(p.stdout.lower(), r"usage|\S+\.(py|sh)|environment")
                    self.assertGreater(len(p.stdout.splitlines()), 2, p.stdout)
                    self.assertEqual(os.listdir(self.cwd), [])
                    self.assertEqual(os.listdir(self.marks), [], "a tool was run")
        self.assertEqual(tree(BENCH), before)


if __name__ == "__main__":
    unittest.main()
