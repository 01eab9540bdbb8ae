#!/usr/bin/env python3
"""Writes the estimated URDFs of the small servo arms (SO-101, Koch v1.1).

Their makers publish kinematics and servo data, not identified inertial parameters, so each link
is modelled as a solid box (printed part) plus point-like servos at known places, and the
inertia tensor is that of the box about the combined centre of mass (parallel-axis theorem for
the servos). Rerun after changing a dimension or mass: python3 scripts/estimate_small_arm_urdf.py
"""
import math
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def box_inertial(mass, size, com, servos=()):
    """Box of `mass` and `size` centred at `com`, plus point servos (mass, xyz)."""
    total = mass + sum(m for m, _ in servos)
    c = [(mass * com[k] + sum(m * p[k] for m, p in servos)) / total for k in range(3)]
    sx, sy, sz = size
    ixx = mass * (sy * sy + sz * sz) / 12
    iyy = mass * (sx * sx + sz * sz) / 12
    izz = mass * (sx * sx + sy * sy) / 12
    ixy = ixz = iyz = 0.0
    # Parallel axis for the box and the servos about the combined centre of mass; servos get a
    # small cube's own inertia so that a single-servo link stays positive definite.
    parts = [(mass, com)] + list(servos)
    for m, p in parts:
        d = [p[k] - c[k] for k in range(3)]
        ixx += m * (d[1] ** 2 + d[2] ** 2)
        iyy += m * (d[0] ** 2 + d[2] ** 2)
        izz += m * (d[0] ** 2 + d[1] ** 2)
        ixy -= m * d[0] * d[1]
        ixz -= m * d[0] * d[2]
        iyz -= m * d[1] * d[2]
    for m, _ in servos:
        s = 0.03
        ixx += m * s * s / 6
        iyy += m * s * s / 6
        izz += m * s * s / 6
    return total, c, (ixx, ixy, ixz, iyy, iyz, izz)


def fmt(x):
    return f"{x:.6g}"


def link_xml(name, inertial):
    m, c, (ixx, ixy, ixz, iyy, iyz, izz) = inertial
    return f"""  <link name="{name}">
    <inertial>
      <origin xyz="{fmt(c[0])} {fmt(c[1])} {fmt(c[2])}" rpy="0 0 0"/>
      <mass value="{fmt(m)}"/>
      <inertia ixx="{fmt(ixx)}" ixy="{fmt(ixy)}" ixz="{fmt(ixz)}" iyy="{fmt(iyy)}" iyz="{fmt(iyz)}" izz="{fmt(izz)}"/>
    </inertial>
  </link>
"""


def joint_xml(j):
    return f"""  <joint name="{j['name']}" type="revolute">
    <parent link="{j['parent']}"/>
    <child link="{j['child']}"/>
    <origin xyz="{' '.join(fmt(x) for x in j['xyz'])}" rpy="0 0 0"/>
    <axis xyz="{' '.join(fmt(x) for x in j['axis'])}"/>
    <limit lower="{fmt(j['lower'])}" upper="{fmt(j['upper'])}" effort="{fmt(j['effort'])}" velocity="{fmt(j['velocity'])}"/>
    <dynamics damping="{fmt(j['damping'])}" friction="{fmt(j['friction'])}"/>
  </joint>
"""


def write(robot, header, base, links, joints, tool, path):
    out = ['<?xml version="1.0"?>\n', header, f'<robot name="{robot}">\n', link_xml(base[0], base[1])]
    for j in joints:
        out.append(joint_xml(j))
        out.append(link_xml(j["child"], links[j["child"]]))
    out.append(f"""  <joint name="{tool[0]}_joint" type="fixed">
    <parent link="{tool[1]}"/>
    <child link="{tool[0]}"/>
    <origin xyz="{' '.join(fmt(x) for x in tool[2])}" rpy="0 0 0"/>
  </joint>
  <link name="{tool[0]}"/>

  <!-- robotd's extension (ignored by other URDF tools): reflected rotor inertia, estimated as
       rotor inertia × gear ratio². -->
  <robotd>
""")
    for j in joints:
        out.append(f'    <joint name="{j["name"]}" armature="{fmt(j["armature"])}"/>\n')
    out.append("  </robotd>\n</robot>\n")
    path.write_text("".join(out))


def so101():
    servo = 0.055  # STS3215, kg
    effort, speed = 2.9, 4.7  # N·m stall at 12 V; 0.222 s/60° no-load
    armature = 0.0025  # ~2e-8 kg·m² rotor × 345² gear ratio
    base = ("base_link", box_inertial(0.10, (0.09, 0.09, 0.06), (0, 0, 0.03), [(servo, (0, 0, 0.045))]))
    links = {
        "shoulder_link": box_inertial(0.04, (0.05, 0.05, 0.05), (0, 0, 0.025), [(servo, (0, 0, 0.045))]),
        "upper_arm_link": box_inertial(0.04, (0.03, 0.03, 0.116), (0.0, 0, 0.058), [(servo, (0.02, 0, 0.11))]),
        "lower_arm_link": box_inertial(0.035, (0.135, 0.028, 0.028), (0.0675, 0, 0), [(servo, (0.125, 0, 0))]),
        "wrist_link": box_inertial(0.02, (0.06, 0.03, 0.03), (0.03, 0, 0), [(servo, (0.05, 0, 0))]),
        "gripper_link": box_inertial(0.035, (0.09, 0.03, 0.03), (0.045, 0, 0), [(servo, (0.02, 0, 0))]),
        "moving_jaw_link": box_inertial(0.02, (0.07, 0.012, 0.02), (0.035, 0, 0)),
    }
    common = dict(effort=effort, velocity=speed, damping=0.05, friction=0.05, armature=armature)
    joints = [
        dict(name="shoulder_pan", parent="base_link", child="shoulder_link", xyz=(0, 0, 0.0624), axis=(0, 0, 1), lower=-1.92, upper=1.92, **common),
        dict(name="shoulder_lift", parent="shoulder_link", child="upper_arm_link", xyz=(0, 0, 0.0542), axis=(0, 1, 0), lower=-1.75, upper=1.75, **common),
        dict(name="elbow_flex", parent="upper_arm_link", child="lower_arm_link", xyz=(0.028, 0, 0.116), axis=(0, 1, 0), lower=-1.69, upper=1.69, **common),
        dict(name="wrist_flex", parent="lower_arm_link", child="wrist_link", xyz=(0.135, 0, 0), axis=(0, 1, 0), lower=-1.66, upper=1.66, **common),
        dict(name="wrist_roll", parent="wrist_link", child="gripper_link", xyz=(0.061, 0, 0), axis=(1, 0, 0), lower=-2.74, upper=2.84, **common),
        dict(name="gripper", parent="gripper_link", child="moving_jaw_link", xyz=(0.02, 0, -0.018), axis=(0, 0, 1), lower=-0.17, upper=1.75, **common),
    ]
    header = """<!--
  so101: the SO-101 follower arm (TheRobotStudio / Hugging Face LeRobot), 6 x Feetech STS3215
  servos, IDs 1-6 in joint order, 1 Mbps. Zero pose: upper arm vertical, forearm and wrist
  pointing forward (+x), gripper closed.

  ESTIMATES. Link lengths approximate the published SO-101 design (upper arm 0.116 m, forearm
  0.135 m, wrist 0.061 m); masses are 55 g per servo plus printed parts (~0.5 kg in all);
  inertias are boxes plus point servos (scripts/estimate_small_arm_urdf.py). Joint ranges are
  those of the calibrated servo range; effort is the STS3215's 12 V stall torque (2.9 N·m) and
  speed its no-load 0.222 s/60 deg (4.7 rad/s). Identify the real arm before relying on them.
-->
"""
    write("so101", header, base, links, joints, ("gripper_frame", "gripper_link", (0.098, 0, 0)), ROOT / "hardware/robots/so101/robot.urdf")


def koch():
    xl430, xl330 = 0.057, 0.018  # kg
    base = ("base_link", box_inertial(0.08, (0.08, 0.08, 0.05), (0, 0, 0.025), [(xl430, (0, 0, 0.035))]))
    links = {
        "shoulder_link": box_inertial(0.03, (0.05, 0.05, 0.04), (0, 0, 0.02), [(xl430, (0, 0, 0.03))]),
        "upper_arm_link": box_inertial(0.025, (0.025, 0.025, 0.108), (0, 0, 0.054), [(xl330, (0.02, 0, 0.105))]),
        "lower_arm_link": box_inertial(0.02, (0.10, 0.022, 0.022), (0.05, 0, 0), [(xl330, (0.095, 0, 0))]),
        "wrist_link": box_inertial(0.012, (0.045, 0.025, 0.025), (0.0225, 0, 0), [(xl330, (0.04, 0, 0))]),
        "gripper_link": box_inertial(0.02, (0.07, 0.025, 0.025), (0.035, 0, 0), [(xl330, (0.015, 0, 0))]),
        "moving_jaw_link": box_inertial(0.01, (0.05, 0.01, 0.015), (0.025, 0, 0)),
    }
    big = dict(effort=1.5, velocity=6.0, damping=0.03, friction=0.03, armature=0.001)
    small = dict(effort=0.52, velocity=10.8, damping=0.01, friction=0.01, armature=0.0004)
    joints = [
        dict(name="shoulder_pan", parent="base_link", child="shoulder_link", xyz=(0, 0, 0.05), axis=(0, 0, 1), lower=-2.6, upper=2.6, **big),
        dict(name="shoulder_lift", parent="shoulder_link", child="upper_arm_link", xyz=(0, 0, 0.04), axis=(0, 1, 0), lower=-1.75, upper=1.75, **big),
        dict(name="elbow_flex", parent="upper_arm_link", child="lower_arm_link", xyz=(0.03, 0, 0.108), axis=(0, 1, 0), lower=-1.75, upper=1.75, **small),
        dict(name="wrist_flex", parent="lower_arm_link", child="wrist_link", xyz=(0.10, 0, 0), axis=(0, 1, 0), lower=-1.75, upper=1.75, **small),
        dict(name="wrist_roll", parent="wrist_link", child="gripper_link", xyz=(0.045, 0, 0), axis=(1, 0, 0), lower=-3.14, upper=3.14, **small),
        dict(name="gripper", parent="gripper_link", child="moving_jaw_link", xyz=(0.03, 0, -0.015), axis=(0, 0, 1), lower=-0.2, upper=1.75, **small),
    ]
    header = """<!--
  koch: the Koch v1.1 follower arm (Alexander Koch / LeRobot). IDs 1-2 are ROBOTIS XL430-W250
  (shoulder), 3-6 XL330-M288 (elbow, wrist, gripper), 1 Mbps. Zero pose: upper arm vertical,
  forearm and wrist pointing forward (+x).

  ESTIMATES. Link lengths approximate the published design (upper arm 0.108 m, forearm 0.10 m);
  masses are 57 g per XL430 and 18 g per XL330 plus printed parts; inertias are boxes plus
  point servos (scripts/estimate_small_arm_urdf.py). Effort: XL430 1.5 N·m stall at 12 V, XL330-
  M288 0.52 N·m at 5 V; speed: 57 rpm (6.0 rad/s) and 103 rpm (10.8 rad/s) no-load. Joint ranges
  are conservative mechanical ranges. Identify the real arm before relying on them.
-->
"""
    write("koch", header, base, links, joints, ("gripper_frame", "gripper_link", (0.075, 0, 0)), ROOT / "hardware/robots/koch/robot.urdf")


if __name__ == "__main__":
    so101()
    koch()
