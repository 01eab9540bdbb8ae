#!/usr/bin/env python3
"""Oracle for robotd's MLP loading, with PyTorch itself.

  torch_mlp.py ACTIVATION PATH   builds nn.Sequential(Linear(12, 32), Act, Linear(32, 32), Act,
                                 Linear(32, 6)) with ACTIVATION relu | silu | tanh (seeded),
                                 saves its state_dict with safetensors.torch.save_file and
                                 normalisers in __metadata__, and prints {"inputs": [...],
                                 "outputs": [...]}: the network evaluated by torch in float64.
"""
import json
import sys

import torch
from safetensors.torch import save_file


def main():
    activation, path = sys.argv[1], sys.argv[2]
    act = {"relu": torch.nn.ReLU, "silu": torch.nn.SiLU, "tanh": torch.nn.Tanh}[activation]
    torch.manual_seed(7)
    net = torch.nn.Sequential(torch.nn.Linear(12, 32), act(), torch.nn.Linear(32, 32), act(), torch.nn.Linear(32, 6))
    in_mean = torch.linspace(-0.5, 0.5, 12, dtype=torch.float64)
    in_std = torch.linspace(0.5, 2.0, 12, dtype=torch.float64)
    out_mean = torch.tensor([0.5, -0.5, 0.0, 1.0, 2.0, -1.0], dtype=torch.float64)
    out_std = torch.tensor([2.0, 1.0, 0.5, 3.0, 1.0, 0.25], dtype=torch.float64)
    metadata = {
        "activation": activation,
        "robot": "sim6",
        "architecture": "12-32-32-6",
        "provenance": "Tests/oracles/torch_mlp.py",
        "input_mean": json.dumps(in_mean.tolist()),
        "input_std": json.dumps(in_std.tolist()),
        "output_mean": json.dumps(out_mean.tolist()),
        "output_std": json.dumps(out_std.tolist()),
    }
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, path, metadata=metadata)
    inputs = torch.randn(8, 12, dtype=torch.float64) * 2
    with torch.no_grad():
        outputs = out_mean + out_std * net.double()((inputs - in_mean) / in_std)
    print(json.dumps({"inputs": inputs.tolist(), "outputs": outputs.tolist()}))


main()
