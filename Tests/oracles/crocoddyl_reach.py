#!/usr/bin/env python3
"""Test oracle for robotd's iLQR: the same program as `robotd bench ilqr`'s anchor,
Benchmarks/anchors/crocoddyl_reach.py (usage and output there), so the optimum the tests check
against and the solve time the benchmark divides by come from one Crocoddyl problem."""
import pathlib
import runpy

runpy.run_path(str(pathlib.Path(__file__).resolve().parents[2] / "Benchmarks" / "anchors" / "crocoddyl_reach.py"),
               run_name="__main__")
