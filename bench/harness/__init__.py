"""The benchmark harness behind bench/compare.py, one concern per module.

peers      what runs: profiles, peer servers, workloads
util       paths, logging, number formatting, child environments, file output
cpu        /proc CPU accounting and the per-window CPU sampler
servers    starting, pinning, restarting and stopping peer servers
runner     running `ricochet bench --json` and collecting its reports
figures    the few figures ricochet's JSON cannot give (ratio to the best per round, CPU)
measure    idle RSS and strace syscall counts
targets    the target checks, each beside the C floor's own ratio
report_md  results.md
chart      chart.svg
readme     the results block in README.md
store      results.json: compact on disk, expanded in memory
cli        command line, the run's order, rendering

Standard library only (Python 3.11).
"""
