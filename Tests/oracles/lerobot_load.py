#!/usr/bin/env python3
"""Opt-in oracle (Tests/DatasetExportTests, ROBOTD_LEROBOT_TEST=1): LeRobot's own LeRobotDataset
loads a robotd export, offline, on the CPU (datasets-and-imitation.md §1.13), and what it yields
matches what pyarrow reads from the files.

Usage: lerobot_load.py ROOT. Prints one JSON object:
  {"failures": [text, ...], "lerobot_version", "frames", "episodes", "tasks": [task of each episode's
   first frame], "features": [keys of dataset[0]], "stats_keys": [...]}
Exit status 2 when lerobot cannot be imported (the caller skips), 0 otherwise.

torchvision: the dataset path imports only `torchvision.transforms` names; when torchvision is
missing or broken (PyPI's CUDA build against a CPU torch fails to import), a stub with those names
is put on sys.path, as §1.13 measured.
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
cache = tempfile.mkdtemp(prefix="robotd-lerobot-cache-")
os.environ.setdefault("HF_HOME", cache)
os.environ.setdefault("HF_DATASETS_CACHE", os.path.join(cache, "datasets"))

STUB = {
    "torchvision/__init__.py": "from . import transforms, io\n__version__ = '0.0.0+robotd-stub'\n"
                               "def set_video_backend(backend):\n    pass\n"
                               "def get_video_backend():\n    return 'pyav'\n",
    "torchvision/io.py": "",
    "torchvision/transforms/__init__.py": "from . import v2\nclass ToTensor:\n"
                                          "    def __call__(self, pic):\n        raise NotImplementedError('robotd torchvision stub')\n",
    "torchvision/transforms/v2/__init__.py": "import torch\nfrom . import functional\n"
                                             "class Transform(torch.nn.Module):\n    pass\n"
                                             "class Identity(Transform):\n    def forward(self, *inputs):\n"
                                             "        return inputs[0] if len(inputs) == 1 else inputs\n",
    "torchvision/transforms/v2/functional.py": "",
}


def ensure_torchvision():
    try:
        import torchvision.transforms.v2  # noqa: F401
        return "real"
    except Exception:
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        root = tempfile.mkdtemp(prefix="robotd-torchvision-stub-")
        for path, text in STUB.items():
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        sys.path.insert(0, root)
        return "stub"


root = sys.argv[1]
torchvision_kind = ensure_torchvision()
try:
    import lerobot
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    import torch
except ImportError as error:
    print(json.dumps({"skip": f"lerobot not importable: {error}"}))
    sys.exit(2)

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import glob

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


info = json.load(open(os.path.join(root, "meta/info.json")))
fps = info["fps"]
dataset = LeRobotDataset("local/robotd_export", root=root)
n = len(dataset)
check(n == info["total_frames"], f"len(dataset) {n} != total_frames {info['total_frames']}")
check(dataset.num_episodes == info["total_episodes"], f"num_episodes {dataset.num_episodes} != {info['total_episodes']}")
check(dataset.fps == fps, f"fps {dataset.fps} != {fps}")

# Every frame as LeRobot yields it against the files as pyarrow reads them, to the bit.
data = pa.concat_tables([pq.read_table(p) for p in sorted(glob.glob(os.path.join(root, "data/*/*.parquet")))])
episodes = pq.read_table(os.path.join(root, "meta/episodes/chunk-000/file-000.parquet")).to_pydict()
vector_keys = [k for k, f in info["features"].items() if f["dtype"] == "float32" and f["shape"] != [1]]
columns = {k: np.stack(data.column(k).to_pylist()).astype(np.float32) for k in vector_keys}
episode_of_row = data.column("episode_index").to_numpy()
first_tasks = []
for i in range(n):
    item = dataset[i]
    for k in vector_keys:
        value = item[k]
        if not check(value.dtype == torch.float32 and tuple(value.shape) == tuple(info["features"][k]["shape"]),
                     f"frame {i} {k}: {value.dtype} {tuple(value.shape)}"):
            continue
        check(np.array_equal(value.numpy().view(np.uint32), columns[k][i].view(np.uint32)), f"frame {i} {k}: values differ from the file")
    e = int(item["episode_index"])
    check(e == episode_of_row[i], f"frame {i}: episode_index {e} != {episode_of_row[i]}")
    check(item["task"] == episodes["tasks"][e][0], f"frame {i}: task {item['task']!r} != {episodes['tasks'][e][0]!r}")
    check(abs(float(item["timestamp"]) - int(item["frame_index"]) / fps) < 1e-6, f"frame {i}: timestamp {float(item['timestamp'])}")
    if "intervention" in info["features"]:
        check(bool(item["intervention"]) == bool(data.column("intervention")[i].as_py()), f"frame {i}: intervention")
    if int(item["frame_index"]) == 0:
        first_tasks.append(item["task"])

# An action chunk window (what ACT/diffusion training asks for): padding past each episode's end.
horizon = 4
windowed = LeRobotDataset("local/robotd_export", root=root, delta_timestamps={"action": [k / fps for k in range(horizon)]})
for e in range(info["total_episodes"]):
    last = episodes["dataset_to_index"][e] - 1
    item = windowed[last]
    check(tuple(item["action"].shape) == (horizon, info["features"]["action"]["shape"][0]), f"episode {e}: window shape {tuple(item['action'].shape)}")
    check(item["action_is_pad"].tolist() == [False] + [True] * (horizon - 1), f"episode {e}: last frame's padding {item['action_is_pad'].tolist()}")
    check(torch.equal(item["action"][0], torch.from_numpy(columns["action"][last])), f"episode {e}: window's first action")

# A DataLoader over the whole dataset, as training iterates it.
loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=False, num_workers=0)
seen = 0
for batch in loader:
    seen += batch["action"].shape[0]
check(seen == n, f"DataLoader yielded {seen} frames, not {n}")
check(dataset.meta.stats is not None and all(k in dataset.meta.stats for k in vector_keys), "meta.stats lacks a vector feature")

print(json.dumps({
    "failures": failures,
    "lerobot_version": getattr(lerobot, "__version__", "?"),
    "torchvision": torchvision_kind,
    "frames": n,
    "episodes": dataset.num_episodes,
    "tasks": first_tasks,
    "features": sorted(dataset[0].keys()),
    "stats_keys": sorted(dataset.meta.stats or {}),
}))
