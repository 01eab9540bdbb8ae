#!/usr/bin/env python3
"""Drives `robotd emulate --arm so101` with the official feetech-servo-sdk (1.0.0, scservo_sdk)
over the emulator's pseudo-terminal (Tests/RobotdTests/EmulatorSDKTests.swift).

usage:  emulator_feetech.py LINK [--settle SECONDS]
stdout: one JSON object:
  {"models": {id: model}, "ping_missing": result, "torque": [..], "goal_readback": int,
   "before": [positions], "goals": [goals], "after": [positions], "results": {call: COMM result}}

Fixed call sequence (re-encoded by the Swift test and compared byte for byte): ping 1..6 (the
SDK's ping is PING then READ 3/2 for the model), ping 7, write Torque_Enable=1 to 1..6, sync read
56/2, sync write 42/2 (goals), write 42/2 to 3, read 42/2 from 3, [sleep], sync read 56/2."""
import json
import sys
import time

import scservo_sdk as scs

IDS = [1, 2, 3, 4, 5, 6]
DELTAS = [300, -200, 250, -250, 400, 200]


def main():
    link = sys.argv[1]
    settle = float(sys.argv[sys.argv.index("--settle") + 1]) if "--settle" in sys.argv else 1.5
    port = scs.PortHandler(link)
    if not port.openPort() or not port.setBaudRate(1000000):
        raise SystemExit("cannot open %s" % link)
    ph = scs.PacketHandler(0)
    out = {"results": {}}

    models = {}
    for i in IDS:
        model, result, error = ph.ping(port, i)
        models[str(i)] = model if result == scs.COMM_SUCCESS else None
    out["models"] = models
    _, out["ping_missing"], _ = ph.ping(port, 7)

    torque = []
    for i in IDS:
        result, error = ph.write1ByteTxRx(port, i, 40, 1)
        torque.append(result == scs.COMM_SUCCESS and error == 0)
    out["torque"] = torque

    def sync_read():
        group = scs.GroupSyncRead(port, ph, 56, 2)
        for i in IDS:
            group.addParam(i)
        result = group.txRxPacket()
        return result, [group.getData(i, 56, 2) for i in IDS]

    result, before = sync_read()
    out["results"]["sync_read_before"] = result
    out["before"] = before
    goals = [p + d for p, d in zip(before, DELTAS)]
    out["goals"] = goals
    group = scs.GroupSyncWrite(port, ph, 42, 2)
    for i, g in zip(IDS, goals):
        group.addParam(i, [g & 0xFF, (g >> 8) & 0xFF])
    out["results"]["sync_write"] = group.txPacket()
    result, error = ph.write2ByteTxRx(port, 3, 42, goals[2])
    out["results"]["write_goal"] = result
    readback, result, error = ph.read2ByteTxRx(port, 3, 42)
    out["results"]["read_back"] = result
    out["goal_readback"] = readback

    time.sleep(settle)
    result, out["after"] = sync_read()
    out["results"]["sync_read_after"] = result
    port.closePort()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
