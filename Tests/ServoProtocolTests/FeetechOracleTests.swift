import Foundation
import ServoProtocol
import TestProcess
import Testing

/// robotd's Feetech encoders and emulated servos against the vendor's own code: the official
/// Python SDK (feetech-servo-sdk 1.0.0) makes the calls of Tests/oracles/feetech_sdk.py over an
/// in-memory port. robotd encodes the same calls and answers each with its servo bank; the SDK's
/// packets must be byte-identical to robotd's, and the SDK must read the bank's replies as the
/// emulated values, signed positions included.
@Suite struct FeetechOracleTests {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
    static let positions = [100, -2000, 3000, -1234, 4095, 0]
    static let velocities = [0, -40, 15, 0, -1, 3]
    static let loads = [-250, 10, 0, 1023, -1023, 5]
    static let voltages = [120, 121, 122, 119, 118, 117]
    static let temperatures = [25, 26, 27, 28, 29, 30]
    static let syncGoals = [1001, -1002, 1003, -1004, 1005, -1006]

    func wire(_ item: FeetechItem, _ value: Int) -> [UInt8] {
        var b: [UInt8] = []
        STS3215.series.append(item.raw(fromValue: value)!, size: item.size, to: &b)
        return b
    }

    /// robotd's side of the oracle's call sequence: every packet, and the bank's reply bytes to it.
    func robotdSide() throws -> (tx: [[UInt8]], replies: [[UInt8]], bank: FeetechServoBank) {
        var bank = FeetechServoBank(ids: Self.ids)
        for (k, id) in Self.ids.enumerated() {
            bank.setPresentPosition(Self.positions[k], id: id)
            bank.setPresentVelocity(Self.velocities[k], id: id)
            bank.setPresentLoad(Self.loads[k], id: id)
            bank.setPresentVoltage(Self.voltages[k], id: id)
            bank.setPresentTemperature(Self.temperatures[k], id: id)
        }
        bank.setFaults(.overheat, id: 2)
        var tx: [[UInt8]] = [], replies: [[UInt8]] = []
        func step(_ packet: [UInt8]) {
            tx.append(packet)
            replies.append(bank.handle(packet: packet).flatMap(\.bytes))
        }
        step(try FeetechEncoder.ping(id: 1))
        step(try FeetechEncoder.read(id: 1, address: STS3215.model.address, length: 2))  // the SDK's ping reads the model
        step(try FeetechEncoder.read(id: 1, address: 56, length: 2))
        step(try FeetechEncoder.read(id: 2, address: 63, length: 1))
        step(try FeetechEncoder.write(id: 1, address: 40, data: [1]))
        step(try FeetechEncoder.write(id: 1, address: 42, data: wire(STS3215.goalPosition, 2048)))
        step(try FeetechEncoder.write(id: 3, address: 42, data: wire(STS3215.goalPosition, -300)))
        step(try FeetechEncoder.syncRead(address: 56, length: 2, ids: Self.ids))
        step(try FeetechEncoder.syncRead(address: 56, length: 8, ids: Self.ids))
        step(try FeetechEncoder.syncWrite(address: 42, length: 2, ids: Self.ids,
                                          data: Self.syncGoals.flatMap { wire(STS3215.goalPosition, $0) }))
        step(try FeetechEncoder.syncRead(address: 42, length: 2, ids: Self.ids))
        step(try FeetechEncoder.read(id: 2, address: STS3215.status.address, length: 1))
        return (tx, replies, bank)
    }

    @Test func sdkSendsRobotdsBytesAndReadsTheBanksValues() throws {
        let (tx, replies, bank) = try robotdSide()
        let hex = { (b: [UInt8]) in b.map { String(format: "%02x", $0) }.joined() }
        let input = try JSONSerialization.data(withJSONObject: ["replies": replies.map(hex)])
        let result = try Self.python("Tests/oracles/feetech_sdk.py", stdin: input)
        try #require(result.status == 0, "feetech_sdk.py failed: \(result.stderr)")
        let out = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        let sdkTX = try #require(out["tx"] as? [String])
        #expect(sdkTX == tx.map(hex))
        let results = try #require(out["results"] as? [[String: Any]])
        var byCall: [String: [String: Any]] = [:]
        for r in results { byCall[r["call"] as! String] = r }
        func int(_ call: String, _ key: String) -> Int? { byCall[call]?[key] as? Int }
        func ints(_ call: String, _ key: String) -> [Int]? { byCall[call]?[key] as? [Int] }

        for r in results { #expect(r["comm"] as? Int == 0, "\(r)") }  // COMM_SUCCESS
        #expect(int("ping", "model") == 777)
        #expect(int("read_position", "value") == 100)
        #expect(int("read_temperature", "value") == 26)
        #expect(int("read_temperature", "error") == 4)  // ERRBIT_OVERHEAT, injected
        #expect(int("write_goal", "error") == 0)
        #expect(ints("sync_read_position", "values") == Self.positions)
        #expect(ints("sync_read_block", "position") == Self.positions)
        #expect(ints("sync_read_block", "velocity") == Self.velocities)
        #expect(ints("sync_read_block", "load") == Self.loads)
        #expect(ints("sync_read_block", "voltage") == Self.voltages)
        #expect(ints("sync_read_block", "temperature") == Self.temperatures)
        #expect(ints("sync_read_goals", "values") == Self.syncGoals)
        #expect(int("read_status", "value") == 4)
        // And the bank holds what the SDK wrote.
        #expect(Self.ids.map { bank.goalPosition(id: $0)! } == Self.syncGoals)
        #expect(bank.torqueEnabled(id: 1) == true)
    }

    struct Output { var status: Int32; var stdout: Data; var stderr: String }

    /// Runs `python3 script` from the repository root, feeding `stdin`.
    static func python(_ script: String, stdin: Data) throws -> Output {
        let r = try ChildProcess.python(script, stdin: stdin)
        return Output(status: r.status, stdout: r.stdoutData, stderr: r.stderr)
    }
}
