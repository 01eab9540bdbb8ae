#!/usr/bin/env python3
"""Drives `robotd emulate --arm koch` with the official dynamixel-sdk (4.1.0) over the emulator's
pseudo-terminal: the vendor's own client is the judge of the emulated bus
(Tests/RobotdTests/EmulatorSDKTests.swift).

usage:  emulator_dynamixel.py LINK [--settle SECONDS]
stdout: one JSON object:
  {"models": {id: model}, "ping_missing": result, "torque": [..], "goal_readback": int,
   "before": [positions], "goals": [goals], "after": [positions], "fast_after": [positions],
   "velocity_after": [..], "results": {call: COMM result}}

The call sequence is fixed (the Swift test re-encodes it with robotd's encoders and compares it
byte for byte with what the emulator recorded): ping 1..6, ping 7, write Torque_Enable=1 to 1..6
(one write each), read Goal_Position of 3, sync read 132/4, sync write 116/4 (goals), write 116/4
to 3, read 116/4 from 3, [sleep], sync read 132/4, fast sync read 132/4, sync read 128/4."""
import json
import sys
import time

from dynamixel_sdk import COMM_SUCCESS, GroupSyncRead, GroupSyncWrite, PacketHandler, PortHandler

IDS = [1, 2, 3, 4, 5, 6]
# Goal offsets (ticks) from the pose at the start: small enough that no joint hits a URDF limit.
DELTAS = [300, -200, 250, -250, 400, 200]


def signed32(v):
    return v - (1 << 32) if v >= 1 << 31 else v


def main():
    link = sys.argv[1]
    settle = float(sys.argv[sys.argv.index("--settle") + 1]) if "--settle" in sys.argv else 1.5
    port = PortHandler(link)
    if not port.openPort() or not port.setBaudRate(1000000):
        raise SystemExit("cannot open %s" % link)
    ph = PacketHandler(2.0)
    out = {"results": {}}

    models = {}
    for i in IDS:
        model, result, error = ph.ping(port, i)
        models[str(i)] = model if result == COMM_SUCCESS else None
    out["models"] = models
    _, out["ping_missing"], _ = ph.ping(port, 7)

    torque = []
    for i in IDS:
        result, error = ph.write1ByteTxRx(port, i, 64, 1)
        torque.append(result == COMM_SUCCESS and error == 0)
    out["torque"] = torque
    goal3, result, _ = ph.read4ByteTxRx(port, 3, 116)
    out["results"]["read_goal"] = result
    out["initial_goal_3"] = signed32(goal3)

    def sync_read(address, fast=False):
        group = GroupSyncRead(port, ph, address, 4)
        for i in IDS:
            group.addParam(i)
        result = group.fastSyncRead() if fast else group.txRxPacket()
        return result, [signed32(group.getData(i, address, 4)) for i in IDS]

    result, before = sync_read(132)
    out["results"]["sync_read_before"] = result
    out["before"] = before
    goals = [p + d for p, d in zip(before, DELTAS)]
    out["goals"] = goals
    group = GroupSyncWrite(port, ph, 116, 4)
    for i, g in zip(IDS, goals):
        group.addParam(i, list((g & 0xFFFFFFFF).to_bytes(4, "little")))
    out["results"]["sync_write"] = group.txPacket()
    # One plain write too, of the same goal, to read it back.
    result, error = ph.write4ByteTxRx(port, 3, 116, goals[2] & 0xFFFFFFFF)
    out["results"]["write_goal"] = result
    readback, result, error = ph.read4ByteTxRx(port, 3, 116)
    out["results"]["read_back"] = result
    out["goal_readback"] = signed32(readback)

    time.sleep(settle)
    result, out["after"] = sync_read(132)
    out["results"]["sync_read_after"] = result
    result, out["fast_after"] = sync_read(132, fast=True)
    out["results"]["fast_sync_read"] = result
    result, out["velocity_after"] = sync_read(128)
    out["results"]["sync_read_velocity"] = result
    port.closePort()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
