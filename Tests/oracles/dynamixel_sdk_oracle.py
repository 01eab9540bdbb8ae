#!/usr/bin/env python3
"""Oracle for robotd's Dynamixel Protocol 2.0 codec and emulated servo bank: drives the official
dynamixel-sdk (4.1.0) against an in-memory port that records every packet the SDK writes and,
after each write, offers the reply bytes the caller supplied (robotd's servo bank replies).

stdin:  {"cases": [{"call": "...", ..., "rx": "hex of the bytes the bus answers"}]}
stdout: [{"tx": ["hex", ...], "result": int, "error": int, ...}]  one entry per case

calls: ping(id); broadcast_ping (waits the SDK's fixed ~0.8 s); read(id, address, length); write(id, address, data); reboot(id);
       sync_read / fast_sync_read(address, length, ids); sync_write(address, length, data{id: bytes});
       bulk_read(entries [[id, address, length]], fast); bulk_write(entries [[id, address, data]])
"""
import json
import sys

from dynamixel_sdk import (COMM_SUCCESS, GroupBulkRead, GroupBulkWrite, GroupSyncRead,
                           GroupSyncWrite, PacketHandler, PortHandler)


class MemoryPort(PortHandler):
    """A PortHandler without a serial device: writes are recorded, reads come from `pending`,
    which becomes readable only once the SDK has transmitted (as a servo answers after the
    instruction; the SDK's clearPort before TX would otherwise discard it)."""

    def __init__(self):
        super().__init__("memory")
        self.written = []
        self.pending = b""
        self.rx = bytearray()

    def openPort(self):
        return self.setBaudRate(1000000)

    def closePort(self):
        self.is_open = False

    def clearPort(self):
        self.rx.clear()

    def setBaudRate(self, baudrate):
        self.baudrate = baudrate
        self.tx_time_per_byte = (1000.0 / baudrate) * 10.0
        self.is_open = True
        return True

    def getBytesAvailable(self):
        return len(self.rx)

    def readPort(self, length):
        out = bytes(self.rx[:length])
        del self.rx[:length]
        return out

    def writePort(self, packet):
        data = bytes(packet)
        self.written.append(data.hex())
        self.rx += self.pending
        self.pending = b""
        return len(data)


def word(data, length):
    return int.from_bytes(bytes(data[:length]), "little") if len(data) >= length else None


def run(case, port, ph):
    port.written = []
    port.pending = bytes.fromhex(case.get("rx", ""))
    port.rx = bytearray()
    call = case["call"]
    out = {}
    if call == "ping":
        model, result, error = ph.ping(port, case["id"])
        out.update(result=result, error=error, model=model)
    elif call == "broadcast_ping":
        found, result = ph.broadcastPing(port)
        out.update(result=result, error=0, found={str(k): v for k, v in found.items()})
    elif call == "read":
        data, result, error = ph.readTxRx(port, case["id"], case["address"], case["length"])
        out.update(result=result, error=error, data=list(data))
    elif call == "write":
        result, error = ph.writeTxRx(port, case["id"], case["address"], len(case["data"]), case["data"])
        out.update(result=result, error=error)
    elif call == "reboot":
        result, error = ph.reboot(port, case["id"])
        out.update(result=result, error=error)
    elif call in ("sync_read", "fast_sync_read"):
        group = GroupSyncRead(port, ph, case["address"], case["length"])
        for i in case["ids"]:
            group.addParam(i)
        result = group.fastSyncRead() if call == "fast_sync_read" else group.txRxPacket()
        values = {}
        for i in case["ids"]:
            if case["length"] in (1, 2, 4):
                values[str(i)] = group.getData(i, case["address"], case["length"])
            values["raw%d" % i] = list(group.data_dict.get(i) or [])
        out.update(result=result, error=0, values=values, available=[
            group.isAvailable(i, case["address"], case["length"]) for i in case["ids"]])
    elif call == "sync_write":
        group = GroupSyncWrite(port, ph, case["address"], case["length"])
        for i, data in case["data"]:
            group.addParam(i, data)
        out.update(result=group.txPacket(), error=0)
    elif call == "bulk_read":
        group = GroupBulkRead(port, ph)
        for i, address, length in case["entries"]:
            group.addParam(i, address, length)
        result = group.fastBulkRead() if case.get("fast") else group.txRxPacket()
        values = {}
        for i, address, length in case["entries"]:
            values[str(i)] = group.getData(i, address, length) if length in (1, 2, 4) else None
        out.update(result=result, error=0, values=values)
    elif call == "bulk_write":
        group = GroupBulkWrite(port, ph)
        for i, address, data in case["entries"]:
            group.addParam(i, address, len(data), data)
        out.update(result=group.txPacket(), error=0)
    else:
        raise SystemExit("unknown call %r" % call)
    out["tx"] = port.written
    out["success"] = out["result"] == COMM_SUCCESS
    return out


def main():
    spec = json.load(sys.stdin)
    port = MemoryPort()
    port.openPort()
    ph = PacketHandler(2.0)
    json.dump([run(case, port, ph) for case in spec["cases"]], sys.stdout)


if __name__ == "__main__":
    main()
