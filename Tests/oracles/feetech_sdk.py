#!/usr/bin/env python3
"""Oracle for robotd's Feetech STS encoders and emulated servo bank (Tests/ServoProtocolTests/
FeetechOracleTests.swift): drives the official SDK (feetech-servo-sdk 1.0.0, `scservo_sdk`)
against an in-memory port that records every packet the SDK writes and answers each with the
bytes robotd's servo bank produced for the same packet.

stdin:  {"replies": ["hex", …]}  one entry per packet the SDK transmits, in order ("" = silence)
stdout: {"tx": ["hex", …], "results": [{"call": name, …}, …]}

The call sequence below is mirrored step by step by the Swift test; change both together."""

import json
import sys

import scservo_sdk as scs
from scservo_sdk import scservo_def as d


class RecordingPort(scs.PortHandler):
    """A PortHandler with no serial device: writes are recorded, and each write queues the next
    canned reply for the SDK's reads."""

    def __init__(self, replies):
        super().__init__("/dev/null")
        self.replies = list(replies)
        self.tx = []
        self.rx = bytearray()

    def openPort(self):
        return self.setBaudRate(1_000_000)

    def setupPort(self, cflag_baud):
        self.is_open = True
        self.tx_time_per_byte = (1000.0 / self.baudrate) * 10.0
        return True

    def closePort(self):
        self.is_open = False

    def clearPort(self):
        pass  # the SDK's clearPort is ser.flush(): TX drain only (hardware-notes §4)

    def getBytesAvailable(self):
        return len(self.rx)

    def readPort(self, length):
        out = bytes(self.rx[:length])
        del self.rx[:length]
        return out

    def writePort(self, packet):
        self.tx.append(bytes(packet).hex())
        if not self.replies:
            raise RuntimeError("the SDK sent packet %d but no reply was supplied" % len(self.tx))
        self.rx += bytes.fromhex(self.replies.pop(0))
        return len(packet)


def signed(raw, bit=15):
    return d.SCS_TOHOST(raw, bit)


def main():
    spec = json.load(sys.stdin)
    port = RecordingPort(spec["replies"])
    ph = scs.PacketHandler(0)  # STS: little-endian (sets the module-global SCS_END = 0)
    assert port.openPort()
    results = []

    model, comm, err = ph.ping(port, 1)
    results.append({"call": "ping", "model": model, "comm": comm, "error": err})

    raw, comm, err = ph.read2ByteTxRx(port, 1, 56)
    results.append({"call": "read_position", "value": signed(raw), "comm": comm, "error": err})

    raw, comm, err = ph.read1ByteTxRx(port, 2, 63)
    results.append({"call": "read_temperature", "value": raw, "comm": comm, "error": err})

    comm, err = ph.write1ByteTxRx(port, 1, 40, 1)
    results.append({"call": "write_torque", "comm": comm, "error": err})

    comm, err = ph.write2ByteTxRx(port, 1, 42, 2048)
    results.append({"call": "write_goal", "comm": comm, "error": err})

    comm, err = ph.write2ByteTxRx(port, 3, 42, d.SCS_TOSCS(-300, 15))
    results.append({"call": "write_negative_goal", "comm": comm, "error": err})

    ids = [1, 2, 3, 4, 5, 6]
    sr = scs.GroupSyncRead(port, ph, 56, 2)
    for i in ids:
        sr.addParam(i)
    comm = sr.txRxPacket()
    results.append({"call": "sync_read_position", "comm": comm,
                    "values": [signed(sr.getData(i, 56, 2)) for i in ids]})

    sr = scs.GroupSyncRead(port, ph, 56, 8)
    for i in ids:
        sr.addParam(i)
    comm = sr.txRxPacket()
    results.append({"call": "sync_read_block", "comm": comm,
                    "position": [signed(sr.getData(i, 56, 2)) for i in ids],
                    "velocity": [signed(sr.getData(i, 58, 2)) for i in ids],
                    "load": [signed(sr.getData(i, 60, 2), 10) for i in ids],
                    "voltage": [sr.getData(i, 62, 1) for i in ids],
                    "temperature": [sr.getData(i, 63, 1) for i in ids]})

    sw = scs.GroupSyncWrite(port, ph, 42, 2)
    goals = [1001, -1002, 1003, -1004, 1005, -1006]
    for i, g in zip(ids, goals):
        raw = d.SCS_TOSCS(g, 15)
        sw.addParam(i, [d.SCS_LOBYTE(raw), d.SCS_HIBYTE(raw)])
    comm = sw.txPacket()
    results.append({"call": "sync_write_goals", "comm": comm})

    sr = scs.GroupSyncRead(port, ph, 42, 2)
    for i in ids:
        sr.addParam(i)
    comm = sr.txRxPacket()
    results.append({"call": "sync_read_goals", "comm": comm,
                    "values": [signed(sr.getData(i, 42, 2)) for i in ids]})

    raw, comm, err = ph.read1ByteTxRx(port, 2, 65)
    results.append({"call": "read_status", "value": raw, "comm": comm, "error": err})

    json.dump({"tx": port.tx, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
