import Foundation
import ServoProtocol
import TestProcess
import Testing

/// robotd's Dynamixel encoders and emulated servo bank against the official dynamixel-sdk 4.1.0
/// (Tests/oracles/dynamixel_sdk_oracle.py, installed by `scripts/setup.sh --test`): for the same
/// calls the SDK writes byte-identical packets, and it parses the bank's replies to the
/// emulated values.
@Suite struct DynamixelSDKOracleTests {
    typealias T = DynamixelControlTable

    /// One SDK call, the packet robotd encodes for it, and the bank's replies to that packet.
    struct Case {
        var json: String
        var tx: [UInt8]
        var rx: [UInt8]
    }

    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func runOracle(_ input: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try ChildProcess.python("Tests/oracles/dynamixel_sdk_oracle.py", stdin: Data(input.utf8))
        return (r.status, r.stdout, r.stderr)
    }

    static func hexString(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    @Test func sdkWritesRobotdsPacketsAndParsesTheBanksReplies() throws {
        var bank = DynamixelServoBank((1...6).map { .init(id: $0, model: $0 <= 2 ? .xl430W250 : .xl330M288) })
        for id in bank.ids {
            bank.setPresentPosition(id, id == 4 ? -500 : 2048 + 100 * Int32(id))
            bank.setPresentVelocity(id, -3 * Int32(id))
            bank.setPresentCurrent(id, 10 * Int16(id))
        }
        var cases: [Case] = []
        func add(_ json: String, _ tx: [UInt8]) {
            let rx = bank.handle(bytes: tx).flatMap(\.bytes)
            cases.append(Case(json: json, tx: tx, rx: rx))
        }
        let all: [UInt8] = [1, 2, 3, 4, 5, 6]
        add(#""call":"ping","id":1"#, DynamixelEncoder.ping(id: 1))                                     // 0
        add(#""call":"ping","id":4"#, DynamixelEncoder.ping(id: 4))                                     // 1
        add(#""call":"read","id":3,"address":132,"length":4"#, DynamixelEncoder.read(id: 3, address: 132, length: 4))  // 2
        add(#""call":"write","id":2,"address":116,"data":[208,7,0,0]"#,
            DynamixelEncoder.write(id: 2, address: 116, data: T.goalPosition.bytes(2000)))               // 3
        add(#""call":"write","id":1,"address":64,"data":[1]"#, DynamixelEncoder.write(id: 1, address: 64, data: [1]))  // 4
        add(#""call":"write","id":1,"address":11,"data":[4]"#, DynamixelEncoder.write(id: 1, address: 11, data: [4]))  // 5: EEPROM locked
        add(#""call":"reboot","id":1"#, DynamixelEncoder.reboot(id: 1))                                 // 6
        add(#""call":"sync_read","address":132,"length":4,"ids":[1,2,3,4,5,6]"#,
            DynamixelEncoder.syncRead(address: 132, length: 4, ids: all))                                // 7
        add(#""call":"sync_read","address":126,"length":10,"ids":[6,5,4,3,2,1]"#,
            DynamixelEncoder.syncRead(address: 126, length: 10, ids: all.reversed()))                    // 8
        add(#""call":"fast_sync_read","address":132,"length":4,"ids":[1,2,3,4,5,6]"#,
            DynamixelEncoder.fastSyncRead(address: 132, length: 4, ids: all))                            // 9
        var sw: [UInt8] = []
        DynamixelEncoder.syncWrite(address: 116, width: 4, ids: all, values: [1001, 1002, 1003, -1004, 1005, 1006], into: &sw)
        add(#""call":"sync_write","address":116,"length":4,"data":[[1,[233,3,0,0]],[2,[234,3,0,0]],[3,[235,3,0,0]],[4,[20,252,255,255]],[5,[237,3,0,0]],[6,[238,3,0,0]]]"#, sw)  // 10
        add(#""call":"sync_read","address":116,"length":4,"ids":[1,2,3,4,5,6]"#,
            DynamixelEncoder.syncRead(address: 116, length: 4, ids: all))                                // 11
        add(#""call":"bulk_read","entries":[[1,132,4],[3,116,4],[5,146,1]]"#, DynamixelEncoder.bulkRead([
            .init(id: 1, address: 132, length: 4), .init(id: 3, address: 116, length: 4), .init(id: 5, address: 146, length: 1),
        ]))                                                                                              // 12
        add(#""call":"bulk_write","entries":[[2,65,[1]],[6,104,[206,255,255,255]]]"#, DynamixelEncoder.bulkWrite([
            .init(id: 2, address: 65, data: [1]), .init(id: 6, address: 104, data: T.goalVelocity.bytes(-50)),
        ]))                                                                                              // 13
        add(#""call":"bulk_read","entries":[[2,65,1],[6,104,4]]"#, DynamixelEncoder.bulkRead([
            .init(id: 2, address: 65, length: 1), .init(id: 6, address: 104, length: 4),
        ]))                                                                                              // 14
        add(#""call":"bulk_read","fast":true,"entries":[[4,132,4],[2,65,1],[6,104,4]]"#, DynamixelEncoder.fastBulkRead([
            .init(id: 4, address: 132, length: 4), .init(id: 2, address: 65, length: 1), .init(id: 6, address: 104, length: 4),
        ]))                                                                                              // 15
        add(#""call":"broadcast_ping""#, DynamixelEncoder.ping(id: 0xFE))                               // 16

        let input = "{\"cases\":[" + cases.map { "{\($0.json),\"rx\":\"\(Self.hexString($0.rx))\"}" }.joined(separator: ",") + "]}"
        let run = try Self.runOracle(input)
        try #require(run.status == 0, "dynamixel_sdk_oracle.py failed: \(run.stderr)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
        try #require(results.count == cases.count)

        // Byte-identical packets for the same calls.
        for (k, (c, r)) in zip(cases, results).enumerated() {
            #expect(r["tx"] as? [String] == [Self.hexString(c.tx)], "case \(k): \(c.json)")
        }
        func int(_ k: Int, _ key: String) -> Int? { (results[k][key] as? NSNumber)?.intValue }
        func values(_ k: Int) -> [String: Any] { results[k]["values"] as? [String: Any] ?? [:] }
        func u32(_ v: Int64) -> Int { Int(UInt32(truncatingIfNeeded: v)) }

        // Every transaction succeeded in the SDK's eyes.
        for k in results.indices { #expect(results[k]["success"] as? Bool == true, "case \(k): \(cases[k].json)") }
        #expect(int(0, "model") == 1060 && int(1, "model") == 1200)
        #expect(results[2]["data"] as? [Int] == T.presentPosition.bytes(2348).map(Int.init))
        #expect(int(3, "error") == 0)
        #expect(int(5, "error") == Int(DynamixelStatusError.Reason.accessError.rawValue))  // EEPROM locked: alert clear, access error
        #expect(int(6, "error") == 0)
        let positions = all.map { id -> Int in id == 4 ? u32(-500) : 2048 + 100 * Int(id) }
        #expect(all.map { (values(7)[String($0)] as? NSNumber)?.intValue } == positions)
        for id in bank.ids {
            // 126..135: current(2) velocity(4) position(4), as the bank holds them.
            let raw = values(8)["raw\(id)"] as? [Int]
            let want = T.presentCurrent.bytes(Int64(10 * Int(id))) + T.presentVelocity.bytes(Int64(-3 * Int(id)))
                + T.presentPosition.bytes(bank.value(id, T.presentPosition)!)
            #expect(raw == want.map(Int.init), "sync read 126/10 id \(id)")
        }
        #expect(all.map { (values(9)[String($0)] as? NSNumber)?.intValue } == positions)
        #expect(all.map { bank.goalPosition($0) } == [1001, 1002, 1003, -1004, 1005, 1006])
        #expect(all.map { (values(11)[String($0)] as? NSNumber)?.intValue } == [1001, 1002, 1003, u32(-1004), 1005, 1006])
        #expect((values(12)["1"] as? NSNumber)?.intValue == 2148)
        #expect((values(12)["3"] as? NSNumber)?.intValue == 1003)
        #expect((values(12)["5"] as? NSNumber)?.intValue == Int(bank.value(5, T.presentTemperature)!))
        #expect((values(14)["2"] as? NSNumber)?.intValue == 1 && (values(14)["6"] as? NSNumber)?.intValue == u32(-50))
        #expect(bank.goalVelocity(6) == -50)
        #expect([4, 2, 6].map { (values(15)[String($0)] as? NSNumber)?.intValue } == [u32(-500), 1, u32(-50)])
        let found = results[16]["found"] as? [String: [Int]]
        #expect(found == Dictionary(uniqueKeysWithValues: all.map {
            (String($0), [Int(bank.model($0)!.rawValue), Int(bank.model($0)!.emulatedFirmware)])
        }))
    }
}
