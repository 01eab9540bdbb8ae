#!/usr/bin/env python3
"""Injected noise for `robotd bench loop` (README, "The control loop"): a SCHED_FIFO thread on
one CPU that takes it for 0.5-4 ms bursts at random 50-150 ms intervals, a stand-in for a host
descheduling the vCPU. Run it beside the benchmark, on the loop's CPU, at a priority above the
loop's (root):

    python3 scripts/cpu_noise.py --cpu 1 --seconds 50 & robotd bench loop --cpu 1 --json

Both the loop's and cyclictest's halves see the same noise; prints the bursts it made.
"""
import argparse
import os
import random
import time

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--cpu", type=int, required=True)
parser.add_argument("--seconds", type=float, required=True)
parser.add_argument("--priority", type=int, default=90, help="SCHED_FIFO priority (above the loop's 80)")
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()

os.sched_setaffinity(0, {args.cpu})
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.priority))
rng = random.Random(args.seed)
end = time.monotonic() + args.seconds
bursts = 0
while time.monotonic() < end:
    time.sleep(rng.uniform(0.05, 0.15))
    burst = rng.uniform(0.0005, 0.004)
    t0 = time.monotonic()
    while time.monotonic() - t0 < burst:
        pass
    bursts += 1
print(f"bursts {bursts}")
