import ServoBus
import ServoProtocol

extension FeetechBusClient: CalibrationBus {
    public var calibrationProtocol: String { "feetech" }

    public func calibrationModel(_ id: UInt8) throws(ServoBusError) -> String { try ping(id).modelName }

    public func disableTorque(_ ids: [UInt8]) throws(ServoBusError) {
        for id in ids { try write(id, STS3215.torqueEnable, 0) }
    }

    public func presentPositions(_ ids: [UInt8]) throws(ServoBusError) -> [Int?] {
        var group = try FeetechSyncRead(ids: ids, items: [STS3215.presentPosition])
        _ = try syncRead(&group)
        return ids.indices.map { group.value(servo: $0, item: 0) }
    }

    public func calibrationRegisters(_ id: UInt8) throws(ServoBusError) -> ServoCalibrationRegisters {
        ServoCalibrationRegisters(
            homingOffset: try read(id, STS3215.homingOffset),
            minPositionLimit: try read(id, STS3215.minPositionLimit),
            maxPositionLimit: try read(id, STS3215.maxPositionLimit))
    }

    /// Torque off, Lock = 0, the three registers, Lock = 1, read-back. A locked STS servo
    /// acknowledges an EEPROM write and ignores it, so only the read-back proves it took.
    public func writeCalibrationRegisters(_ id: UInt8, _ registers: ServoCalibrationRegisters) throws(ServoBusError) {
        try write(id, STS3215.torqueEnable, 0)
        try write(id, STS3215.lock, 0)
        do throws(ServoBusError) {
            try write(id, STS3215.homingOffset, registers.homingOffset)
            try write(id, STS3215.minPositionLimit, registers.minPositionLimit)
            try write(id, STS3215.maxPositionLimit, registers.maxPositionLimit)
        } catch {
            try? write(id, STS3215.lock, 1)
            throw error
        }
        try write(id, STS3215.lock, 1)
        var want = registers
        want.driveMode = nil
        let have = try calibrationRegisters(id)
        guard have == want else {
            throw ServoBusError(
                .verificationFailed, servoID: id,
                message: "servo \(id) holds Homing_Offset \(have.homingOffset), limits \(have.minPositionLimit)…\(have.maxPositionLimit) after writing \(want.homingOffset), \(want.minPositionLimit)…\(want.maxPositionLimit)")
        }
    }
}
