"""LeRobot's DEGREES normalisation as an oracle (MotorsBus._normalize, the DEGREES branch:
(raw - (min + max) / 2) * 360 / (resolution - 1), no clamping, drive_mode ignored), written from
the formula in ../shared/datasets-and-imitation.md §3.3, not copied from LeRobot.

stdin: {"calibration": {motor: {"range_min": .., "range_max": .., ...}}, "positions": {motor: raw}}
stdout: {motor: degrees}"""
import json
import sys

RESOLUTION = 4096
request = json.load(sys.stdin)
out = {}
for motor, raw in request["positions"].items():
    c = request["calibration"][motor]
    lo, hi = c["range_min"], c["range_max"]
    if lo == hi:
        raise SystemExit(f"min and max are equal for {motor}")
    mid = (lo + hi) / 2
    out[motor] = (raw - mid) * 360 / (RESOLUTION - 1)
print(json.dumps(out))
