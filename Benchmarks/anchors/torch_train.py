"""PyTorch anchor of `robotd bench train`: the same ensemble training, the strongest idiomatic way.

Same work as MLPEnsemble.train: E members of widths[0] -> ... -> widths[-1] (SiLU between the
linear layers, linear last), PyTorch's default init, batch 256 drawn with replacement per member
(bootstrap), mean squared error on normalised inputs and targets, global gradient-norm clip 10,
AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 1e-4 on the weights). The members are
batched into one [E, B, in] tensor and every layer is one torch.baddbmm, so each step is a few
large kernels rather than E small ones (per-member nn.Sequential is ~0.6x as fast here).
The data are the benchmark's own synthetic transitions (same generator, same seed).

Prints one JSON object on its last line: {"version", "member_samples_per_s": {"threads_N": ...}}
with the median over --repeats epochs per thread count (after one warm-up epoch).
"""
import argparse
import json
import math
import statistics
import time

import torch


def data(samples, n_in, n_out):
    # TrainBenchmark's generator: a 64-bit LCG, uniform in [-1, 1), outputs sin(x) + 0.1 x.
    state = 42
    x = [0.0] * (samples * n_in)
    for k in range(samples * n_in):
        state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        x[k] = (state >> 40) / float(1 << 24) * 2 - 1
    X = torch.tensor(x, dtype=torch.float32).view(samples, n_in)
    Y = torch.empty(samples, n_out)
    for o in range(n_out):
        Y[:, o] = torch.sin(X[:, o % n_in]) + 0.1 * X[:, (o + 6) % n_in]
    return X, Y


class Ensemble(torch.nn.Module):
    def __init__(self, members, widths):
        super().__init__()
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for a, b in zip(widths[:-1], widths[1:]):
            bound = 1 / math.sqrt(a)
            self.weights.append(torch.nn.Parameter(torch.empty(members, a, b).uniform_(-bound, bound)))
            self.biases.append(torch.nn.Parameter(torch.empty(members, 1, b).uniform_(-bound, bound)))

    def forward(self, x):
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.nn.functional.silu(x)
        return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--members", type=int, default=5)
    p.add_argument("--widths", default="18,200,200,200,12")
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeats", type=int, default=1)
    a = p.parse_args()
    widths = [int(w) for w in a.widths.split(",")]
    E, B, N = a.members, a.batch, a.samples
    torch.manual_seed(1)
    X, Y = data(N, widths[0], widths[-1])
    X = (X - X.mean(0)) / X.std(0).clamp_min(1e-6)
    Y = (Y - Y.mean(0)) / Y.std(0).clamp_min(1e-6)
    model = Ensemble(E, widths)
    params = list(model.parameters())
    decay = [{"params": list(model.weights), "weight_decay": 1e-4}, {"params": list(model.biases), "weight_decay": 0.0}]
    try:
        opt = torch.optim.AdamW(decay, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, fused=True)
        optimiser = "AdamW(fused)"
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW(decay, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
        optimiser = "AdamW(foreach)"

    def epoch():
        done = 0
        while done < N:
            n = min(B, N - done)
            idx = torch.randint(0, N, (E, n))
            x, y = X[idx], Y[idx]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0, foreach=True)
            opt.step()
            done += n

    rates = {}
    for t in [int(s) for s in a.threads.split(",")]:
        torch.set_num_threads(t)
        epoch()  # warm-up: allocator, kernels, thread pool
        runs = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            epoch()
            runs.append(E * N / (time.perf_counter() - t0))
        rates[f"threads_{t}"] = statistics.median(runs)
    print(json.dumps({"version": torch.__version__, "optimiser": optimiser, "layout": "members batched, baddbmm",
                      "member_samples_per_s": rates}))


if __name__ == "__main__":
    main()
