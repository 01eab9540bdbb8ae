#!/usr/bin/env python3
"""Reference rigid-body quantities from Pinocchio (PyPI `pin`), the test oracle for robotd.

Reads a JSON request on stdin:
  {"urdf": PATH, "frame": NAME, "armature": [...] (optional, per joint),
   "states": [{"q": [...], "v": [...], "tau": [...]}, ...]}
and writes JSON to stdout:
  {"nq": n, "joint_names": [...], "total_mass": kg, "gravity": [0, 0, -9.81],
   "states": [{"ddq", "bias", "mass_matrix", "frame": {"position", "rotation"}, "jacobian",
               "daba_dq", "daba_dv", "daba_dtau", "drnea_dq", "drnea_dv"}, ...]}
Matrices are row-major nested lists. The Jacobian is the frame Jacobian in LOCAL_WORLD_ALIGNED
(rows: linear x y z, then angular x y z). RNEA derivatives are taken at a = ABA(q, v, tau).
Rigid-body terms only: Pinocchio's aba/rnea ignore URDF damping and friction, as robotd's do.
"""
import json
import sys

import numpy as np
import pinocchio as pin


def main() -> int:
    request = json.load(sys.stdin)
    model = pin.buildModelFromUrdf(request["urdf"])
    if "armature" in request:
        model.armature = np.array(request["armature"], dtype=float)
    data = model.createData()
    assert np.allclose(model.gravity.linear, [0, 0, -9.81])
    frame_id = model.getFrameId(request["frame"])
    if frame_id >= model.nframes:
        print(f"no frame named {request['frame']!r}", file=sys.stderr)
        return 2
    out_states = []
    for s in request["states"]:
        q, v, tau = (np.array(s[k], dtype=float) for k in ("q", "v", "tau"))
        ddq = pin.aba(model, data, q, v, tau).copy()
        bias = pin.nonLinearEffects(model, data, q, v).copy()
        m = pin.crba(model, data, q)
        m = np.triu(m) + np.triu(m, 1).T
        pin.forwardKinematics(model, data, q)
        pin.updateFramePlacements(model, data)
        placement = data.oMf[frame_id]
        jac = pin.computeFrameJacobian(model, data, q, frame_id, pin.ReferenceFrame.LOCAL_WORLD_ALIGNED)
        pin.computeABADerivatives(model, data, q, v, tau)
        minv = np.triu(data.Minv) + np.triu(data.Minv, 1).T
        daba_dq, daba_dv = data.ddq_dq.copy(), data.ddq_dv.copy()
        drnea_dq, drnea_dv, _ = pin.computeRNEADerivatives(model, data, q, v, ddq)
        out_states.append({
            "ddq": ddq.tolist(),
            "bias": bias.tolist(),
            "mass_matrix": m.tolist(),
            "frame": {"position": placement.translation.tolist(), "rotation": placement.rotation.tolist()},
            "jacobian": np.asarray(jac).tolist(),
            "daba_dq": daba_dq.tolist(),
            "daba_dv": daba_dv.tolist(),
            "daba_dtau": minv.tolist(),
            "drnea_dq": np.asarray(drnea_dq).tolist(),
            "drnea_dv": np.asarray(drnea_dv).tolist(),
        })
    json.dump({
        "nq": model.nq,
        "joint_names": [model.names[i] for i in range(1, model.njoints)],
        "total_mass": float(sum(inertia.mass for inertia in model.inertias)),
        "gravity": model.gravity.linear.tolist(),
        "states": out_states,
    }, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
