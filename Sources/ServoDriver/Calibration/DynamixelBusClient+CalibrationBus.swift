import ServoBus
import ServoProtocol

extension DynamixelBusClient: CalibrationBus {
    public var calibrationProtocol: String { "dynamixel" }

    public func calibrationModel(_ id: UInt8) throws(ServoBusError) -> String { try ping(id).modelName }

    public func disableTorque(_ ids: [UInt8]) throws(ServoBusError) {
        for id in ids { try write(id, DynamixelControlTable.torqueEnable, 0) }
    }

    public func presentPositions(_ ids: [UInt8]) throws(ServoBusError) -> [Int?] {
        var group = try DynamixelSyncRead(ids: ids, items: [DynamixelControlTable.presentPosition])
        _ = try syncRead(&group)
        return ids.indices.map { group.value(servo: $0, item: 0).map { Int($0) } }
    }

    public func calibrationRegisters(_ id: UInt8) throws(ServoBusError) -> ServoCalibrationRegisters {
        ServoCalibrationRegisters(
            homingOffset: Int(try read(id, DynamixelControlTable.homingOffset)),
            minPositionLimit: Int(try read(id, DynamixelControlTable.minPositionLimit)),
            maxPositionLimit: Int(try read(id, DynamixelControlTable.maxPositionLimit)),
            driveMode: Int(try read(id, DynamixelControlTable.driveMode) & 1))
    }

    /// Torque off (EEPROM below address 64 is writable only then), Drive_Mode bit 0 (its other
    /// bits kept), Homing_Offset, Min/Max_Position_Limit, read-back.
    public func writeCalibrationRegisters(_ id: UInt8, _ registers: ServoCalibrationRegisters) throws(ServoBusError) {
        try write(id, DynamixelControlTable.torqueEnable, 0)
        if let mode = registers.driveMode {
            let now = try read(id, DynamixelControlTable.driveMode)
            let next = (now & ~1) | Int64(mode & 1)
            if next != now { try write(id, DynamixelControlTable.driveMode, next) }
        }
        try write(id, DynamixelControlTable.homingOffset, Int64(registers.homingOffset))
        try write(id, DynamixelControlTable.minPositionLimit, Int64(registers.minPositionLimit))
        try write(id, DynamixelControlTable.maxPositionLimit, Int64(registers.maxPositionLimit))
        var have = try calibrationRegisters(id)
        if registers.driveMode == nil { have.driveMode = nil }
        guard have == registers else {
            throw ServoBusError(
                .verificationFailed, servoID: id,
                message: "servo \(id) holds Homing_Offset \(have.homingOffset), limits \(have.minPositionLimit)…\(have.maxPositionLimit), drive mode \(have.driveMode ?? 0) after writing \(registers.homingOffset), \(registers.minPositionLimit)…\(registers.maxPositionLimit), \(registers.driveMode ?? 0)")
        }
    }
}
