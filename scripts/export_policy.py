#!/usr/bin/env python3
"""Export a PyTorch MLP policy (or dynamics model) for robotd, as safetensors.

robotd loads the state_dict of a plain nn.Sequential(Linear, act, Linear, act, ..., Linear) saved
with safetensors.torch.save_file: tensors "0.weight" (out x in), "0.bias", "2.weight", ... and, in
the file's __metadata__ (all values are strings):

  activation    relu | silu | tanh (one for every hidden layer)
  robot         the robot's name (robot.name in the daemon's config); checked on load
  architecture  widths, e.g. "12-256-256-6" (informative)
  provenance    free text: where the weights come from
  observation   the policy's input blocks, in order, comma-separated (default "q,v"):
                q, v (joint positions and velocities, dof values each), target_q (the joint target
                of target.set, dof values), target_position (its end-effector target, 3 values, m),
                ee_position (the measured end-effector position, 3 values, m). Without a target
                set, target_q reads as q and target_position as ee_position. The network's input
                width must be their total.
  input_mean, input_std, output_mean, output_std
                JSON lists; robotd feeds (x - input_mean) / input_std to the network and returns
                output_mean + output_std * y. Omit them for identity.

Usage (example with a fresh network):  python3 scripts/export_policy.py policy.safetensors
"""
import json
import sys

import torch
from safetensors.torch import save_file

policy = torch.nn.Sequential(
    torch.nn.Linear(12, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 6),
)
# ... train it ...
metadata = {
    "activation": "relu",
    "robot": "sim6",
    "architecture": "12-256-256-6",
    "provenance": "scripts/export_policy.py example",
    "observation": "q,v",
    "input_mean": json.dumps([0.0] * 12),
    "input_std": json.dumps([1.0] * 12),
    "output_mean": json.dumps([0.0] * 6),
    "output_std": json.dumps([1.0] * 6),
}
save_file({k: v.contiguous() for k, v in policy.state_dict().items()}, sys.argv[1], metadata=metadata)
