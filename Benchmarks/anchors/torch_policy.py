"""PyTorch anchor of `robotd bench policy`: single-input forward latency of the same MLP.

nn.Sequential(Linear, act, ..., Linear) of --widths (ReLU between, as the benchmark's default
network), one input of shape [1, in], torch.inference_mode(), 1 thread: what deploying the policy
in PyTorch on the robot's computer costs per call, Python's per-call overhead included.

Prints one JSON object on its last line: {"version", "forward_us": {"p50", "p99"}}.
"""
import argparse
import json
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--widths", default="12,256,256,6")
    p.add_argument("--activation", default="relu")
    p.add_argument("--calls", type=int, default=20000)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(3)
    widths = [int(w) for w in a.widths.split(",")]
    act = {"relu": torch.nn.ReLU, "silu": torch.nn.SiLU, "tanh": torch.nn.Tanh, "identity": torch.nn.Identity}[a.activation]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(widths) - 2:
            layers.append(act())
    net = torch.nn.Sequential(*layers).eval()
    x = torch.tensor([[(i % 7) * 0.1 - 0.3 for i in range(widths[0])]])
    times = []
    with torch.inference_mode():
        for _ in range(1000):
            net(x)
        for k in range(a.calls):
            x[0, k % widths[0]] += 1e-6
            t0 = time.perf_counter_ns()
            net(x)
            times.append(time.perf_counter_ns() - t0)
    times.sort()
    def us(q):
        return times[min(len(times) - 1, int(q * len(times)))] / 1000
    print(json.dumps({"version": torch.__version__, "threads": 1, "forward_us": {"p50": us(0.5), "p99": us(0.99)}}))


if __name__ == "__main__":
    main()
