#!/usr/bin/env python3
"""Oracle for Tests/RobotdTests/TeleopExportTests: a LeRobot v3.0 export's frame columns as
pyarrow reads them, and the episode store's frames as sqlite3 reads them (read-only, beside a
daemon that still has the WAL database open), both to the bit.

Usage: lerobot_columns.py ROOT DB. Prints one JSON object:
  {"export": {"episode_index": [...], "frame_index": [...], "task_index": [...], "intervention": [...],
              "timestamp": [float32 bits], "action": [[float32 bits]], "observation.state": [[float32 bits]]},
   "store": [{"id", "task", "status", "frame_index": [...], "timestamp": [float64 bits],
              "loop_time": [float], "action": [[float64 bits]], "mode": [...], "intervention": [...]}, ...]}
Bits are hexadecimal strings (the IEEE-754 bit pattern), so no decimal conversion stands between
the files and the comparison. Store episodes are in id order, frames in frame_index order.
"""
import glob
import json
import os
import sqlite3
import struct
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

root, db = sys.argv[1], sys.argv[2]


def bits32(values):
    return [format(int(b), "08x") for b in np.asarray(values, dtype=np.float32).view(np.uint32)]


def bits64(blob):
    return [format(b, "016x") for b in struct.unpack(f"<{len(blob) // 8}Q", blob)]


data = pa.concat_tables([pq.read_table(p) for p in sorted(glob.glob(os.path.join(root, "data/*/*.parquet")))])
export = {name: data.column(name).to_pylist() for name in ["episode_index", "frame_index", "task_index", "intervention"]}
export["timestamp"] = bits32(data.column("timestamp").to_numpy())
for name in ["action", "observation.state"]:
    export[name] = [bits32(row) for row in data.column(name).to_pylist()]

connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
store = []
for episode_id, task, status in connection.execute("SELECT id, task, status FROM episodes ORDER BY id"):
    rows = connection.execute(
        "SELECT frame_index, timestamp, loop_time, action, mode, intervention FROM frames WHERE episode_id = ? ORDER BY frame_index",
        (episode_id,)).fetchall()
    store.append({
        "id": episode_id, "task": task, "status": status,
        "frame_index": [r[0] for r in rows],
        "timestamp": [format(struct.unpack("<Q", struct.pack("<d", r[1]))[0], "016x") for r in rows],
        "loop_time": [r[2] for r in rows],
        "action": [bits64(r[3]) for r in rows],
        "mode": [r[4] for r in rows],
        "intervention": [bool(r[5]) for r in rows],
    })

json.dump({"export": export, "store": store}, sys.stdout)
