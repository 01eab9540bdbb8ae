#!/usr/bin/env python3
"""Oracle for robotd's safetensors/MLP code, using Python's `safetensors` package and numpy.

  safetensors_mlp.py write PATH       writes an nn.Sequential-style MLP (12-32-32-6, tanh) with
                                      normalisers in __metadata__, and prints {"inputs": [...],
                                      "outputs": [...]} evaluated with numpy in float64
  safetensors_mlp.py read PATH        loads a file robotd wrote and prints its tensors and
                                      metadata as JSON (lists of floats)

The layout is PyTorch's state_dict of nn.Sequential(Linear, Tanh, Linear, Tanh, Linear):
"0.weight" (out x in), "0.bias", "2.weight", "2.bias", "4.weight", "4.bias".
"""
import json
import sys

import numpy as np
from safetensors.numpy import load_file, save_file


def forward(tensors, meta, x):
    h = (x - np.array(json.loads(meta["input_mean"]))) / np.array(json.loads(meta["input_std"]))
    layers = sorted(int(k.split(".")[0]) for k in tensors if k.endswith(".weight"))
    for n, i in enumerate(layers):
        h = tensors[f"{i}.weight"].astype(np.float64) @ h + tensors[f"{i}.bias"].astype(np.float64)
        if n < len(layers) - 1:
            h = np.tanh(h)
    return np.array(json.loads(meta["output_mean"])) + np.array(json.loads(meta["output_std"])) * h


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        rng = np.random.default_rng(3)
        widths = [12, 32, 32, 6]
        tensors = {}
        for n in range(len(widths) - 1):
            tensors[f"{2 * n}.weight"] = (rng.standard_normal((widths[n + 1], widths[n])) / np.sqrt(widths[n])).astype(np.float32)
            tensors[f"{2 * n}.bias"] = (0.1 * rng.standard_normal(widths[n + 1])).astype(np.float32)
        meta = {
            "activation": "tanh",
            "robot": "sim6",
            "architecture": "12-32-32-6",
            "provenance": "Tests/oracles/safetensors_mlp.py",
            "input_mean": json.dumps([0.1 * i for i in range(12)]),
            "input_std": json.dumps([1.0 + 0.05 * i for i in range(12)]),
            "output_mean": json.dumps([0.5, -0.5, 0.0, 1.0, 2.0, -1.0]),
            "output_std": json.dumps([2.0, 1.0, 0.5, 3.0, 1.0, 0.25]),
        }
        save_file(tensors, path, metadata=meta)
        inputs = rng.standard_normal((5, 12))
        outputs = [forward(tensors, meta, x).tolist() for x in inputs]
        print(json.dumps({"inputs": inputs.tolist(), "outputs": outputs}))
    else:
        from safetensors import safe_open
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata()
        tensors = load_file(path)
        print(json.dumps({"tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype), "values": v.astype(np.float64).ravel().tolist()}
                                      for k, v in tensors.items()}, "metadata": meta}))


main()
