#!/usr/bin/env python3
"""Oracle for Tests/LeRobotExportTests: reads a LeRobotDataset v3.0 directory with pyarrow and
checks what lerobot's loader relies on (datasets-and-imitation.md §1.2–1.9, the §1.12 checklist).

Usage: lerobot_check.py ROOT. Prints one JSON object:
  {"failures": [text, ...], "data_files": [relative paths, sorted], "info": {...},
   "stats": {...}, "tasks": [task strings by task_index],
   "episodes": {column: values} (non-stats columns), "frames": {column: values} (defaults + flags)}
An empty "failures" list means every invariant held.
"""
import glob
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

root = sys.argv[1]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def rel(path):
    return os.path.relpath(path, root)


info = json.load(open(os.path.join(root, "meta/info.json")))
stats = json.load(open(os.path.join(root, "meta/stats.json")))
fps = info["fps"]
check(info["codebase_version"] == "v3.0", f"codebase_version {info['codebase_version']}")
check(isinstance(fps, int) and fps > 0, f"fps {fps!r} is not a positive int")
features = info["features"]
for name in ["timestamp", "frame_index", "episode_index", "index", "task_index"]:
    check(name in features, f"default feature {name} missing from info.json")
for name, f in features.items():
    check("/" not in name, f"feature name {name} contains '/'")
    check(isinstance(f["shape"], list) and len(f["shape"]) == 1, f"{name}: shape {f['shape']}")
    if f["names"] is not None:
        check(len(f["names"]) == f["shape"][0], f"{name}: {len(f['names'])} names for shape {f['shape']}")

# Data files: the loader globs data/*/*.parquet, sorts the paths as text and concatenates.
paths = sorted(glob.glob(os.path.join(root, "data/*/*.parquet")))
check(len(paths) > 0, "no data files")
tables = [pq.read_table(p) for p in paths]
data = pa.concat_tables(tables)
n = data.num_rows
check(info["total_frames"] == n, f"total_frames {info['total_frames']} != {n} data rows")
for name, f in features.items():
    if not check(name in data.column_names, f"feature {name} not a data column"):
        continue
    field = data.schema.field(name)
    check(not field.nullable, f"data column {name} is nullable")
    dtype, shape = f["dtype"], f["shape"]
    if shape == [1]:
        expected = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}[dtype]
        check(field.type == expected, f"data column {name}: {field.type}, info says {dtype}")
    else:
        check(pa.types.is_list(field.type) and field.type.value_type == pa.float32(), f"data column {name}: {field.type}")
        lengths = np.diff(data.column(name).combine_chunks().offsets.to_numpy())
        check(bool(np.all(lengths == shape[0])), f"data column {name}: a row's width differs from shape {shape}")
check(set(data.column_names) == set(features), f"data columns {data.column_names} != features {sorted(features)}")

col = {name: data.column(name).to_numpy() for name in ["index", "episode_index", "frame_index", "timestamp", "task_index"]}
check(bool(np.array_equal(col["index"], np.arange(n))), "index is not the global row position 0..n-1")
ep = col["episode_index"]
check(bool(np.all(np.diff(ep) >= 0)), "episode_index not sorted")
episode_ids = np.unique(ep)
check(bool(np.array_equal(episode_ids, np.arange(info["total_episodes"]))),
      f"episode_index values {episode_ids.tolist()} are not 0..{info['total_episodes'] - 1}")
expected_frame = np.concatenate([np.arange(np.sum(ep == e)) for e in episode_ids]) if n else np.array([])
check(bool(np.array_equal(col["frame_index"], expected_frame)), "frame_index does not restart at 0 and count up in each episode")
expected_ts = (col["frame_index"].astype(np.float64) / fps).astype(np.float32)
check(bool(np.array_equal(col["timestamp"], expected_ts)), "timestamp != float32(frame_index / fps)")

# Episodes metadata: positional lookup, so rows sorted and contiguous.
episode_paths = sorted(glob.glob(os.path.join(root, "meta/episodes/*/*.parquet")))
episodes = pa.concat_tables([pq.read_table(p) for p in episode_paths])
e_cols = {c: episodes.column(c).to_pylist() for c in episodes.column_names if not c.startswith("stats/")}
ne = episodes.num_rows
check(info["total_episodes"] == ne, f"total_episodes {info['total_episodes']} != {ne} episode rows")
check(e_cols["episode_index"] == list(range(ne)), "episode rows not 0..N-1 in order")
lengths = e_cols["length"]
starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).tolist()
check(e_cols["dataset_from_index"] == starts, "dataset_from_index != running sum of lengths")
check(e_cols["dataset_to_index"] == [s + l for s, l in zip(starts, lengths)], "dataset_to_index != from + length")
for i in range(ne):
    check(int(np.sum(ep == i)) == lengths[i], f"episode {i}: length {lengths[i]} != its {int(np.sum(ep == i))} data rows")
    path = os.path.join(root, info["data_path"].format(chunk_index=e_cols["data/chunk_index"][i], file_index=e_cols["data/file_index"][i]))
    if check(os.path.exists(path), f"episode {i}: data file {rel(path)} missing"):
        t = pq.read_table(path, columns=["episode_index"]).column(0).to_numpy()
        check(int(np.sum(t == i)) == lengths[i], f"episode {i}: not all its rows are in {rel(path)}")
    mpath = os.path.join(root, "meta/episodes/chunk-{:03d}/file-{:03d}.parquet".format(e_cols["meta/episodes/chunk_index"][i], e_cols["meta/episodes/file_index"][i]))
    check(os.path.exists(mpath), f"episode {i}: meta file {rel(mpath)} missing")
for c in ["episode_index", "data/chunk_index", "data/file_index", "dataset_from_index", "dataset_to_index", "length",
          "meta/episodes/chunk_index", "meta/episodes/file_index"]:
    check(episodes.schema.field(c).type == pa.int64(), f"episodes column {c}: {episodes.schema.field(c).type}")
check(str(episodes.schema.field("tasks").type) == "list<element: string not null>", f"episodes tasks: {episodes.schema.field('tasks').type}")

# Tasks: the task strings are pandas' index, restored through the `pandas` footer entry.
tasks_table = pq.read_table(os.path.join(root, "meta/tasks.parquet"))
pandas_md = tasks_table.schema.pandas_metadata
task_names = tasks_table.column("__index_level_0__").to_pylist()
check(pandas_md is not None and pandas_md["index_columns"] == ["__index_level_0__"], f"tasks.parquet pandas metadata: {pandas_md}")
check(tasks_table.column("task_index").to_pylist() == list(range(tasks_table.num_rows)), "task_index not 0..T-1")
check(info["total_tasks"] == tasks_table.num_rows, f"total_tasks {info['total_tasks']} != {tasks_table.num_rows}")
try:
    import pandas as pd
    frame = pd.read_parquet(os.path.join(root, "meta/tasks.parquet"))
    check(list(frame.index) == task_names, f"pandas restores index {list(frame.index)}, not the tasks")
    check(list(frame.columns) == ["task_index"], f"pandas columns {list(frame.columns)}")
except ImportError:
    pass
for i in range(ne):
    tis = set(col["task_index"][ep == i].tolist())
    check(len(tis) == 1 and e_cols["tasks"][i] == [task_names[tis.pop()]], f"episode {i}: task_index does not name its task {e_cols['tasks'][i]}")

# stats.json against numpy over the data.
for name, f in features.items():
    if not check(name in stats, f"stats.json lacks {name}"):
        continue
    s = stats[name]
    column = data.column(name)
    values = np.stack(column.to_pylist()).astype(np.float64) if f["shape"] != [1] else column.to_numpy().astype(np.float64).reshape(-1, 1)
    check(s["count"] == [n], f"stats {name}: count {s['count']} != [{n}]")
    for key, fn in [("min", np.min), ("max", np.max)]:
        check(np.array_equal(np.array(s[key], dtype=np.float64), fn(values, axis=0)), f"stats {name}.{key} {s[key]}")
    for key, fn in [("mean", np.mean), ("std", np.std)]:
        check(np.allclose(s[key], fn(values, axis=0), rtol=1e-9, atol=1e-12), f"stats {name}.{key} {s[key]} vs {fn(values, axis=0)}")
    for key, p in [("q01", 0.01), ("q10", 0.10), ("q50", 0.50), ("q90", 0.90), ("q99", 0.99)]:
        check(np.allclose(s[key], np.quantile(values, p, axis=0), rtol=1e-12, atol=1e-12), f"stats {name}.{key}")
    if f["dtype"] == "bool":
        check(all(isinstance(v, bool) for v in s["min"] + s["max"]), f"stats {name}: bool min/max not booleans")
    if f["dtype"] == "int64":
        check(all(isinstance(v, int) for v in s["min"] + s["max"]), f"stats {name}: int min/max not integers")

json.dump({
    "failures": failures,
    "data_files": [rel(p) for p in paths],
    "info": info,
    "tasks": task_names,
    "episodes": e_cols,
    "stat_keys": sorted(stats),
    "episode_stats_columns": sorted(c for c in episodes.column_names if c.startswith("stats/")),
}, sys.stdout)
