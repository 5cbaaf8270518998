#!/usr/bin/env python3
"""Usage: measure.py [--stdin FILE] -- COMMAND…

Runs a command, prints its wall time and peak resident memory as JSON: {"seconds", "max_rss_mb"}.

Used by the benchmark scripts so that every number comes from the same clock and the same
kernel accounting, with nothing to install.
"""
import json
import resource
import subprocess
import sys
import time

args = sys.argv[1:]
stdin = None
if args[:1] == ["--stdin"]:
    stdin = open(args[1], "rb")
    args = args[2:]
cmd = args[1:] if args[:1] == ["--"] else args
start = time.perf_counter()
done = subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL)
elapsed = time.perf_counter() - start
if done.returncode != 0:
    sys.exit(f"measure: {cmd[0]} exited {done.returncode}")
rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": round(elapsed, 3), "max_rss_mb": round(rss_kb / 1024, 1)}))
