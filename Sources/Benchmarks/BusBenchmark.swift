import AllocationCounter
import Foundation
import Platform
import ServoBus
import ServoProtocol

/// `robotd bench bus`: the servo cycle of one arm — one SYNC_WRITE of goal positions plus one
/// SYNC_READ of the state block — against an in-process emulated bus (the emulator host on a
/// pseudo-terminal, the arm's servo bank, wire time paced at the baud), measured per cycle.
///
/// - so101: 6× STS3215 (ids 1–6); reads Present_Position, Present_Velocity, Present_Load (56, 6 B).
/// - koch: ids 1–2 XL430-W250, 3–6 XL330-M288; reads Present_Current, Present_Velocity,
///   Present_Position (126, 10 B).
///
/// The wire time of a cycle is 10 bits per byte of the request and reply packets at the baud
/// (return delay 0, as LeRobot configures); `ratio_to_wire` = p50 cycle / wire time is what the
/// host and the transaction layer add (target ≤ 1.3).
public enum BusBenchmark {
    public enum Arm: String, CaseIterable, Sendable {
        case so101, koch
    }

    public struct Settings: Sendable {
        public var arm: Arm = .so101
        public var seconds = 10.0
        public var baud = 1_000_000
        public init() {}
    }

    /// - Throws: `BenchmarkError` when the emulator's pty or the port cannot be opened.
    public static func run(_ settings: Settings) throws -> [String: Any] {
        switch settings.arm {
        case .so101:
            let host = try hosted(FeetechResponder(bank: FeetechServoBank(ids: 1...6)), baud: settings.baud)
            defer { host.stop() }
            let client = FeetechBusClient(transport: try open(host.slavePath, settings.baud), configuration: configuration)
            defer { client.bus.transport.close() }
            let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
            var write = try servo { () throws(ServoBusError) in try FeetechSyncWrite(ids: ids, item: STS3215.goalPosition) }
            var read = try servo { () throws(ServoBusError) in
                try FeetechSyncRead(ids: ids, items: [STS3215.presentPosition, STS3215.presentVelocity, STS3215.presentLoad])
            }
            let wire = WireTime.nanoseconds(bytes: write.wireBytes + read.wireBytes, baud: settings.baud)
            return try measure(settings, servos: ids.count, wireNanoseconds: wire, health: { client.health }) { k throws(ServoBusError) in
                for i in 0..<ids.count { write.values[i] = 2048 + Int((k + i * 37) % 400) - 200 }
                try client.syncWrite(&write)
                return try client.syncRead(&read) == ids.count
            }
        case .koch:
            let bank = DynamixelServoBank((1...6).map {
                DynamixelServoBank.ServoConfiguration(id: UInt8($0), model: $0 <= 2 ? .xl430W250 : .xl330M288)
            })
            let host = try hosted(DynamixelResponder(bank: bank), baud: settings.baud)
            defer { host.stop() }
            let client = DynamixelBusClient(transport: try open(host.slavePath, settings.baud), configuration: configuration)
            defer { client.bus.transport.close() }
            let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
            var write = try servo { () throws(ServoBusError) in try DynamixelSyncWrite(ids: ids, item: DynamixelControlTable.goalPosition) }
            var read = try servo { () throws(ServoBusError) in
                try DynamixelSyncRead(ids: ids, items: [DynamixelControlTable.presentCurrent, DynamixelControlTable.presentVelocity,
                                                        DynamixelControlTable.presentPosition])
            }
            let wire = WireTime.nanoseconds(bytes: write.wireBytes + read.wireBytes, baud: settings.baud)
            return try measure(settings, servos: ids.count, wireNanoseconds: wire, health: { client.health }) { k throws(ServoBusError) in
                for i in 0..<ids.count { write.values[i] = Int32(2048 + (k + i * 37) % 400 - 200) }
                try client.syncWrite(write)
                return try client.syncRead(&read) == ids.count
            }
        }
    }

    /// Timeout 20 ms, two retries: a lost reply costs a retry, counted, not a failed cycle.
    static var configuration: TransactionConfiguration {
        var c = TransactionConfiguration()
        c.retries = 2
        return c
    }

    static func hosted<R: BusResponder & SendableMetatype>(_ responder: R, baud: Int) throws -> EmulatorHost<R> {
        do throws(SerialTransportError) {
            return try EmulatorHost(responder: responder, configuration: EmulatorHostConfiguration(linkPath: nil, baud: baud))
        } catch { throw BenchmarkError("bench bus: cannot start the emulated bus: \(error)") }
    }

    static func open(_ path: String, _ baud: Int) throws -> any SerialTransport {
        do throws(SerialTransportError) { return try SerialPorts.open(path: path, baud: baud).transport } catch {
            throw BenchmarkError("bench bus: \(error)")
        }
    }

    static func servo<T>(_ body: () throws(ServoBusError) -> T) throws -> T {
        do throws(ServoBusError) { return try body() } catch { throw BenchmarkError("bench bus: \(error)") }
    }

    /// Runs `cycle` (cycle number → whether every servo answered) for `settings.seconds`, timing
    /// each on the monotonic clock, and builds the report.
    static func measure(
        _ settings: Settings, servos: Int, wireNanoseconds: UInt64, health: () -> BusHealth,
        cycle: (Int) throws(ServoBusError) -> Bool
    ) throws -> [String: Any] {
        // Warm-up: first-use allocations (reply buffers, encoder capacity) happen here.
        for k in 0..<20 { _ = try servo { () throws(ServoBusError) in try cycle(k) } }
        let before = health()
        var durations: [UInt64] = []
        durations.reserveCapacity(Int(settings.seconds * 20_000) + 16)
        var incomplete = 0
        let start = MonotonicClock.now()
        let end = start &+ UInt64(settings.seconds * 1e9)
        var k = 0
        AllocationCounter_start()
        while true {
            let t0 = MonotonicClock.now()
            if t0 >= end || durations.count == durations.capacity { break }
            let ok = try servo { () throws(ServoBusError) in try cycle(k) }
            durations.append(MonotonicClock.now() &- t0)
            if !ok { incomplete += 1 }
            k += 1
        }
        let allocations = AllocationCounter_stop()
        let elapsed = Double(MonotonicClock.now() &- start) / 1e9
        let after = health()
        durations.sort()
        func q(_ p: Double) -> Double {
            guard !durations.isEmpty else { return 0 }
            return Double(durations[min(durations.count - 1, max(0, Int((p * Double(durations.count)).rounded(.up)) - 1))]) / 1000
        }
        let wireUs = Double(wireNanoseconds) / 1000
        let p50 = q(0.5)
        return [
            "arm": settings.arm.rawValue,
            "servos": servos,
            "baud": settings.baud,
            "cycles": durations.count,
            "cycle_hz": elapsed > 0 ? Double(durations.count) / elapsed : 0,
            "cycle_us": ["p50": p50, "p99": q(0.99), "max": durations.isEmpty ? 0 : Double(durations.last!) / 1000],
            "wire_us_per_cycle": wireUs,
            "ratio_to_wire": wireUs > 0 ? p50 / wireUs : 0,
            "errors": after.errors - before.errors,
            "incomplete_cycles": incomplete,
            "retries": after.retries - before.retries,
            "allocations_per_cycle": durations.isEmpty ? 0 : Double(allocations) / Double(durations.count),
        ]
    }
}
