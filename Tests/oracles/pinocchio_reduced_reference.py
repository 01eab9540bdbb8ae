#!/usr/bin/env python3
"""Reference rigid-body quantities from Pinocchio for URDFs with mimic joints and point masses.

Reads a JSON request on stdin:
  {"urdf": PATH, "joints": [names of the degrees of freedom, in the caller's order],
   "frames": [link names], "states": [{"q": [...], "v": [...], "a": [...], "tau": [...]}, ...]}
and writes JSON to stdout:
  {"nq_full": n, "mimic_model": bool, "total_mass": kg,
   "states": [{"frames": [{"position", "rotation", "jacobian"}, ...], "rnea", "bias",
               "mass_matrix", "ddq", "daba_dq", "daba_dv", "daba_dtau", "drnea_dq", "drnea_dv"}]}
Matrices are row-major nested lists; Jacobians are LOCAL_WORLD_ALIGNED (linear rows first).

The quantities are those of the definition of a mimic joint: Pinocchio builds the tree with
every follower as a free joint (buildModelFromUrdf(mimic=False)), and with
q_full = G q + c, v_full = G v, a_full = G a (G[f, leader] = multiplier):
  rnea = Gᵀ rnea_full,  M = Gᵀ M_full G,  J = J_full G,  ddq = M⁻¹ (τ − Gᵀ b_full),
  ∂rnea/∂q = Gᵀ ∂rnea_full/∂q_full G (at a = ddq), ∂ddq/∂q = −M⁻¹ ∂rnea/∂q, ∂ddq/∂τ = M⁻¹.
Pinocchio ≥ 3.4 also builds mimic joints natively (mimic=True, JointModelMimic); its ABA does
not support them, so the reduction is the reference, and where the native model exists its
kinematics, RNEA and CRBA must equal the reduction (else this script fails): "mimic_model"
says whether that cross-check ran. Rigid-body terms only, no armature (the fixtures have none).
"""
import json
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pinocchio as pin


def mimics(path: str) -> dict:
    """follower name -> (leader name, multiplier, offset), from the URDF's <mimic> tags."""
    out = {}
    for joint in ET.parse(path).getroot().iter("joint"):
        m = joint.find("mimic")
        if m is not None:
            out[joint.get("name")] = (m.get("joint"), float(m.get("multiplier", "1")), float(m.get("offset", "0")))
    return out


def sym(m):
    return np.triu(m) + np.triu(m, 1).T


def main() -> int:
    request = json.load(sys.stdin)
    path = request["urdf"]
    full = pin.buildModelFromUrdf(path)
    data = full.createData()
    names = [full.names[i] for i in range(1, full.njoints)]
    assert full.nq == full.nv == len(names), "only 1-dof joints expected"
    dofs = request["joints"]
    followers = mimics(path)
    if sorted(dofs) != sorted(n for n in names if n not in followers):
        print(f"degrees of freedom differ: caller {dofs}, Pinocchio {names} with followers {list(followers)}", file=sys.stderr)
        return 2
    n, nf = len(dofs), len(names)
    g = np.zeros((nf, n))
    c = np.zeros(nf)
    for r, name in enumerate(names):
        if name in followers:
            leader, multiplier, offset = followers[name]
            g[r, dofs.index(leader)] = multiplier
            c[r] = offset
        else:
            g[r, dofs.index(name)] = 1.0
    frame_ids = []
    for name in request["frames"]:
        fid = full.getFrameId(name, pin.FrameType.BODY)
        if fid >= full.nframes:
            print(f"no body frame named {name!r}", file=sys.stderr)
            return 2
        frame_ids.append(fid)

    native = None
    if followers:
        try:
            native = pin.buildModelFromUrdf(path, mimic=True)
        except TypeError:
            native = None  # Pinocchio < 3.4: no mimic support; the reduction alone is the reference
    if native is not None:
        native_names = [native.names[i] for i in range(1, native.njoints)]
        native_dofs = [nm for nm in native_names if nm not in followers]
        # Native q follows Pinocchio's joint order; map it to the caller's.
        perm = [dofs.index(nm) for nm in native_dofs]
        if native.nq != n:
            print(f"native mimic model has nq = {native.nq}, expected {n}", file=sys.stderr)
            return 2
        native_data = native.createData()

    out_states = []
    for s in request["states"]:
        q, v, a, tau = (np.array(s[k], dtype=float) for k in ("q", "v", "a", "tau"))
        qf, vf, af = g @ q + c, g @ v, g @ a
        rnea = g.T @ pin.rnea(full, data, qf, vf, af)
        bias = g.T @ pin.rnea(full, data, qf, vf, np.zeros(nf))
        m = g.T @ sym(pin.crba(full, data, qf)) @ g
        ddq = np.linalg.solve(m, tau - bias)
        pin.forwardKinematics(full, data, qf)
        pin.updateFramePlacements(full, data)
        pin.computeJointJacobians(full, data, qf)
        frames = []
        for fid in frame_ids:
            placement = data.oMf[fid]
            jac = pin.getFrameJacobian(full, data, fid, pin.ReferenceFrame.LOCAL_WORLD_ALIGNED) @ g
            frames.append({"position": placement.translation.tolist(), "rotation": placement.rotation.tolist(), "jacobian": jac.tolist()})
        dq, dv, _ = pin.computeRNEADerivatives(full, data, qf, vf, g @ ddq)
        drnea_dq, drnea_dv = g.T @ dq @ g, g.T @ dv @ g
        minv = np.linalg.inv(m)

        if native is not None:
            qn, vn, an = q[perm], v[perm], a[perm]
            rn = pin.rnea(native, native_data, qn, vn, an)
            mn = sym(pin.crba(native, native_data, qn))
            pin.forwardKinematics(native, native_data, qn)
            pin.updateFramePlacements(native, native_data)
            scale = max(1.0, np.abs(m).max())
            if not np.allclose(rn, rnea[perm], rtol=0, atol=1e-9 * max(1.0, np.abs(rnea).max())) \
                    or not np.allclose(mn, m[np.ix_(perm, perm)], rtol=0, atol=1e-9 * scale):
                print(f"Pinocchio's native mimic model disagrees with the reduction at q = {q.tolist()}", file=sys.stderr)
                return 3
            for name, fid in zip(request["frames"], frame_ids):
                nid = native.getFrameId(name, pin.FrameType.BODY)
                if not np.allclose(native_data.oMf[nid].homogeneous, data.oMf[fid].homogeneous, rtol=0, atol=1e-12):
                    print(f"Pinocchio's native mimic model places frame {name!r} elsewhere", file=sys.stderr)
                    return 3

        out_states.append({
            "frames": frames,
            "rnea": rnea.tolist(),
            "bias": bias.tolist(),
            "mass_matrix": m.tolist(),
            "ddq": ddq.tolist(),
            "daba_dq": (-minv @ drnea_dq).tolist(),
            "daba_dv": (-minv @ drnea_dv).tolist(),
            "daba_dtau": minv.tolist(),
            "drnea_dq": drnea_dq.tolist(),
            "drnea_dv": drnea_dv.tolist(),
        })
    json.dump({
        "nq_full": full.nq,
        "mimic_model": native is not None,
        "total_mass": float(sum(inertia.mass for inertia in full.inertias)),
        "states": out_states,
    }, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
