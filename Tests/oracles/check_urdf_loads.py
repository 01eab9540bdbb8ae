#!/usr/bin/env python3
"""Checks that URDF files load in Pinocchio and in MuJoCo and that both tools agree.

Usage: check_urdf_loads.py URDF...
Prints one JSON object per file and exits non-zero (naming the file and the reason) if a file
fails to load, if the tools disagree on the number of joints, or if the moving mass differs by
more than 1e-9 relative. "Moving mass" excludes bodies welded to the world: MuJoCo fuses them
into the world body, while Pinocchio keeps them in the universe's inertia.
"""
import json
import sys

import mujoco
import pinocchio as pin


def check(path: str) -> dict:
    model = pin.buildModelFromUrdf(path)
    moving_pin = float(sum(model.inertias[i].mass for i in range(1, model.njoints)))
    mj = mujoco.MjModel.from_xml_path(path)
    # Bodies hanging below at least one joint.
    moving_mj = 0.0
    for b in range(1, mj.nbody):
        ancestor, moves = b, False
        while ancestor != 0:
            if mj.body_jntnum[ancestor] > 0:
                moves = True
                break
            ancestor = mj.body_parentid[ancestor]
        if moves:
            moving_mj += float(mj.body_mass[b])
    result = {
        "file": path,
        "robot": model.name,
        "pinocchio": {"nq": model.nq, "nv": model.nv, "total_mass": float(sum(i.mass for i in model.inertias)), "moving_mass": moving_pin},
        "mujoco": {"nbody": mj.nbody, "njnt": mj.njnt, "moving_mass": moving_mj},
    }
    if model.nq != mj.njnt:
        raise SystemExit(f"{path}: Pinocchio has {model.nq} joints, MuJoCo {mj.njnt}")
    if abs(moving_pin - moving_mj) > 1e-9 * max(1.0, moving_pin):
        raise SystemExit(f"{path}: moving mass {moving_pin} kg in Pinocchio, {moving_mj} kg in MuJoCo")
    return result


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    for path in sys.argv[1:]:
        try:
            print(json.dumps(check(path)))
        except SystemExit:
            raise
        except Exception as error:  # a loader's own exception: report which file
            raise SystemExit(f"{path}: failed to load: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
