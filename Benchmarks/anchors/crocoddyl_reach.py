#!/usr/bin/env python3
"""Crocoddyl's solution of a robotd reaching problem (PyPI `crocoddyl`): the anchor `robotd bench
ilqr` runs side by side with its own solves (same problem, same machine, same run) and divides by,
and the oracle of robotd's iLQR tests (Tests/oracles/crocoddyl_reach.py runs this file): the same
optimal cost, the same number of iterations.

Usage: crocoddyl_reach.py PROBLEM.json [--repeat N] [--horizon T] [--init zero|x0_gravity]
                                       [--threads N]

PROBLEM.json (paths relative to the repository root):
  {"urdf", "frame", "dt", "horizon", "q0", "v0", "target": [x, y, z],
   "weights": {"running_frame", "running_state", "running_control", "terminal_frame"},
   "torque_limits": bool, "max_iterations", "tolerance", "repeat", "init": "zero"|"x0_gravity"}

Problem (x = (q, v), u = joint torques, armature from the URDF's <robotd> extension, gravity
(0, 0, -9.81), no damping or friction), with p(q) the world position of `frame`:
  x_{k+1}: v' = v + dt·a(q, v, u), q' = q + dt·v'   (Crocoddyl's semi-implicit Euler)
  cost = Σ_{k<T} dt·(½w_f‖p(q_k) − p*‖² + ½w_x‖x_k − x0‖² + ½w_u‖u_k‖²) + ½w_T‖p(q_T) − p*‖²
Solved with FDDP (BoxFDDP with ±URDF effort limits when torque_limits is true).

Prints one JSON object on stdout: final_cost, final_cost_recomputed (numpy, from the solver's
xs/us), iterations (Crocoddyl's solver.iter), iterations_run (backward passes actually made:
solver.iter + 1 when converged), converged, stop (Crocoddyl's stopping value: the expected cost
decrease |d0 + d1/2| of a full step), ee_error_m, solve_ms {median, min, max},
ms_per_iteration (median solve_ms / iterations_run), solve_ms_all (every timed solve, in order,
so that a caller running several rounds can pool them), u0, xs_T, plus self-checks (max_gap:
largest defect of the solver's xs/us under an independent numpy + pinocchio.aba Euler step;
dynamics_check: same at a test point).
"""
import argparse
import json
import pathlib
import statistics
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pinocchio as pin
import crocoddyl

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def read_armature(urdf_path: pathlib.Path, model) -> np.ndarray:
    """Per-velocity armature from `<robotd><joint name=… armature=…/></robotd>` (0 if absent)."""
    armature = np.zeros(model.nv)
    root = ET.parse(urdf_path).getroot()
    for ext in root.findall("robotd"):
        for j in ext.findall("joint"):
            name = j.get("name")
            if not model.existJointName(name):
                raise SystemExit(f"<robotd> names unknown joint {name!r}")
            jid = model.getJointId(name)
            joint = model.joints[jid]
            armature[joint.idx_v:joint.idx_v + joint.nv] = float(j.get("armature"))
    return armature


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("problem")
    ap.add_argument("--repeat", type=int, help="timed solves (overrides the problem's 'repeat')")
    ap.add_argument("--horizon", type=int, help="number of running nodes T (overrides 'horizon')")
    ap.add_argument("--init", choices=["zero", "x0_gravity"], help="initial guess (overrides 'init')")
    ap.add_argument("--threads", type=int, default=1,
                    help="Crocoddyl OpenMP threads for calc/calcDiff (default 1: single-threaded baseline)")
    args = ap.parse_args()

    spec = json.loads(pathlib.Path(args.problem).read_text())
    T = args.horizon if args.horizon is not None else int(spec["horizon"])
    repeat = args.repeat if args.repeat is not None else int(spec.get("repeat", 1))
    init = args.init or spec.get("init", "zero")
    dt = float(spec["dt"])
    w = spec["weights"]
    w_f, w_x, w_u, w_T = (float(w[k]) for k in ("running_frame", "running_state", "running_control", "terminal_frame"))
    max_iter = int(spec["max_iterations"])
    tol = float(spec["tolerance"])
    torque_limits = bool(spec.get("torque_limits", False))

    urdf = pathlib.Path(spec["urdf"])
    if not urdf.is_absolute():
        urdf = REPO_ROOT / urdf
    # Crocoddyl's model: pinocchio armature left at 0; Crocoddyl adds dam.armature to M itself.
    # (pinocchio ≥ 3 crba/aba also add model.armature: setting both would count it twice.)
    model = pin.buildModelFromUrdf(str(urdf))
    armature = read_armature(urdf, model)
    assert np.allclose(model.gravity.linear, [0, 0, -9.81])
    assert model.nq == model.nv, "only vector-space configurations (revolute/prismatic joints)"
    frame_id = model.getFrameId(spec["frame"])
    if frame_id >= model.nframes:
        print(f"no frame named {spec['frame']!r}", file=sys.stderr)
        return 2
    # Independent reference model (as in pinocchio_reference.py): armature in pinocchio itself.
    ref = pin.buildModelFromUrdf(str(urdf))
    ref.armature = armature.copy()
    ref_data = ref.createData()

    nq, nv = model.nq, model.nv
    q0 = np.array(spec["q0"], dtype=float)
    v0 = np.array(spec["v0"], dtype=float)
    x0 = np.concatenate([q0, v0])
    target = np.array(spec["target"], dtype=float)

    state = crocoddyl.StateMultibody(model)
    actuation = crocoddyl.ActuationModelFull(state)
    nu = actuation.nu

    running_costs = crocoddyl.CostModelSum(state, nu)
    running_costs.addCost("frame", crocoddyl.CostModelResidual(
        state, crocoddyl.ResidualModelFrameTranslation(state, frame_id, target, nu)), w_f)
    running_costs.addCost("state", crocoddyl.CostModelResidual(
        state, crocoddyl.ResidualModelState(state, x0, nu)), w_x)
    running_costs.addCost("control", crocoddyl.CostModelResidual(
        state, crocoddyl.ResidualModelControl(state, nu)), w_u)
    terminal_costs = crocoddyl.CostModelSum(state, nu)
    terminal_costs.addCost("frame", crocoddyl.CostModelResidual(
        state, crocoddyl.ResidualModelFrameTranslation(state, frame_id, target, nu)), w_T)

    def action_model(costs, step):
        dam = crocoddyl.DifferentialActionModelFreeFwdDynamics(state, actuation, costs)
        dam.armature = armature
        if torque_limits:
            # ActuationModelFull copies ±effortLimit into u_lb/u_ub but leaves has_control_limits
            # false; the setters update it. Must be set before wrapping (the integrator copies them).
            dam.u_lb = -model.effortLimit.copy()
            dam.u_ub = model.effortLimit.copy()
        return crocoddyl.IntegratedActionModelEuler(dam, step)

    running = action_model(running_costs, dt)
    terminal = action_model(terminal_costs, 0.0)
    problem = crocoddyl.ShootingProblem(x0, [running] * T, terminal)
    problem.nthreads = args.threads

    if init == "zero":
        init_xs = [np.zeros(nq + nv) for _ in range(T + 1)]
        init_us = [np.zeros(nu) for _ in range(T)]
    elif init == "x0_gravity":
        g = pin.rnea(ref, ref_data, q0, np.zeros(nv), np.zeros(nv)).copy()
        init_xs = [x0.copy() for _ in range(T + 1)]
        init_us = [g.copy() for _ in range(T)]
    else:
        print(f"unknown init {init!r}", file=sys.stderr)
        return 2

    def make_solver():
        s = crocoddyl.SolverBoxFDDP(problem) if torque_limits else crocoddyl.SolverFDDP(problem)
        s.th_stop = tol
        return s

    # Iterations actually run: `solver.iter` is the 0-based index of the last iteration when the
    # solve converges (it returns from inside the loop), so count them with a callback in one
    # extra, untimed solve (a Python callback would distort the timings).
    class Counter(crocoddyl.CallbackAbstract):
        def __init__(self):
            crocoddyl.CallbackAbstract.__init__(self)
            self.calls = 0

        def __call__(self, _solver):
            self.calls += 1

    counter = Counter()
    counted = make_solver()
    counted.setCallbacks([counter])
    counted.solve(init_xs, init_us, max_iter, False)

    times_ms, results = [], []
    for _ in range(max(repeat, 1)):
        solver = make_solver()
        t0 = time.perf_counter()
        converged = solver.solve(init_xs, init_us, max_iter, False)
        times_ms.append((time.perf_counter() - t0) * 1e3)
        results.append((solver.cost, solver.iter))
    costs = [c for c, _ in results]
    if max(costs) - min(costs) > 1e-12 * max(1.0, abs(costs[0])) or len({i for _, i in results}) != 1:
        print(f"warning: repeated solves differ: {results}", file=sys.stderr)

    xs = [np.array(x) for x in solver.xs]
    us = [np.array(u) for u in solver.us]

    # Independent numpy recomputation of the cost and of the dynamics defects.
    def frame_pos(q):
        pin.framesForwardKinematics(ref, ref_data, q)
        return ref_data.oMf[frame_id].translation.copy()

    def euler_step(x, u):
        q, v = x[:nq], x[nq:]
        a = pin.aba(ref, ref_data, q, v, u)
        v1 = v + dt * a
        return np.concatenate([q + dt * v1, v1])

    cost = 0.0
    for k in range(T):
        e = frame_pos(xs[k][:nq]) - target
        cost += dt * (0.5 * w_f * e @ e + 0.5 * w_x * (xs[k] - x0) @ (xs[k] - x0) + 0.5 * w_u * us[k] @ us[k])
    eT = frame_pos(xs[T][:nq]) - target
    cost += 0.5 * w_T * eT @ eT
    max_gap = float(max([np.abs(xs[0] - x0).max()] +
                        [np.abs(xs[k + 1] - euler_step(xs[k], us[k])).max() for k in range(T)]))
    u_test = np.linspace(-5, 5, nu)
    rdata = running.createData()
    running.calc(rdata, x0, u_test)
    dynamics_check = float(np.abs(rdata.xnext - euler_step(x0, u_test)).max())

    iterations = int(solver.iter)
    if counted.cost != solver.cost or counted.iter != solver.iter:
        print("warning: counted solve differs from timed solves", file=sys.stderr)
    median_ms = statistics.median(times_ms)
    out = {
        "final_cost": float(solver.cost),
        "final_cost_recomputed": float(cost),
        "iterations": iterations,
        "iterations_run": counter.calls,
        "converged": bool(converged),
        "stop": float(solver.stop),
        "ee_error_m": float(np.linalg.norm(eT)),
        "solve_ms": {"median": median_ms, "min": min(times_ms), "max": max(times_ms)},
        "solve_ms_all": times_ms,
        "ms_per_iteration": median_ms / max(counter.calls, 1),
        "u0": us[0].tolist(),
        "xs_T": xs[T].tolist(),
        "horizon": T,
        "init": init,
        "solver": "SolverBoxFDDP" if torque_limits else "SolverFDDP",
        "threads": args.threads,
        "repeat": len(times_ms),
        "max_gap": max_gap,
        "dynamics_check": dynamics_check,
        "crocoddyl_version": crocoddyl.__version__,
        "pinocchio_version": pin.__version__,
    }
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
