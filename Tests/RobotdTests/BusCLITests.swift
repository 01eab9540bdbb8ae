import Foundation
import ServoBus
import ServoProtocol
import Testing

/// `robotd bus …` as a process against an emulator host started in the test, on a link in a
/// temporary directory.
@Suite(.serialized) struct BusCLITests {
    final class Bus<Responder: BusResponder & SendableMetatype> {
        let dir: URL
        let link: String
        let host: EmulatorHost<Responder>

        init(_ responder: Responder) throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-bus-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            link = dir.appendingPathComponent("arm.tty").path
            host = try EmulatorHost(responder: responder, configuration: .init(linkPath: link))
        }

        deinit {
            host.stop()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    static func robotd(_ args: [String]) throws -> TestSupport.Result {
        try TestSupport.run(TestSupport.robotdPath, ["bus"] + args)
    }

    @Test func scanReadWriteAndSetIDOnAnEmulatedSO101() throws {
        let bus = try Bus(FeetechResponder(bank: FeetechServoBank(ids: 1...6)))
        let common = ["--port", bus.link, "--protocol", "feetech"]
        let scan = try Self.robotd(["scan"] + common + ["--json", "--window-ms", "150"])
        #expect(scan.status == 0, "\(scan.stderr)")
        let servos = try #require((try TestSupport.json(scan.stdout) as? [String: Any])?["servos"] as? [[String: Any]])
        #expect(servos.compactMap { $0["id"] as? Int } == [1, 2, 3, 4, 5, 6])
        #expect(servos.allSatisfy { $0["model"] as? String == "STS3215" && $0["baud"] as? Int == 1_000_000 && $0["firmware"] as? String == "3.10" })

        let text = try Self.robotd(["scan"] + common + ["--baud", "1000000", "--window-ms", "150"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("id 6  STS3215 (model 777)"))

        let write = try Self.robotd(["write"] + common + ["2", "Goal_Position", "-250"])
        #expect(write.status == 0, "\(write.stderr)")
        let read = try Self.robotd(["read"] + common + ["2", "goal_position"])
        #expect(read.status == 0)
        #expect(read.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "-250")

        let setID = try Self.robotd(["set-id"] + common + ["--json", "4", "11"])
        #expect(setID.status == 0, "\(setID.stderr)")
        #expect((try TestSupport.json(setID.stdout) as? [String: Any])?["id"] as? Int == 11)
        let after = try Self.robotd(["read"] + common + ["11", "ID"])
        #expect(after.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "11")
        let gone = try Self.robotd(["read"] + common + ["4", "ID"])
        #expect(gone.status == 1)
        #expect(gone.stderr.contains("servo 4 did not answer"))

        let unknown = try Self.robotd(["read"] + common + ["1", "Warp_Drive"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no control-table item \"Warp_Drive\""))
    }

    @Test func scanFindsTheKochModels() throws {
        let bank = DynamixelServoBank((1...6).map { .init(id: UInt8($0), model: $0 <= 2 ? .xl430W250 : .xl330M288) })
        let bus = try Bus(DynamixelResponder(bank: bank))
        let scan = try Self.robotd(["scan", "--port", bus.link, "--protocol", "dynamixel", "--json", "--window-ms", "150"])
        #expect(scan.status == 0, "\(scan.stderr)")
        let servos = try #require((try TestSupport.json(scan.stdout) as? [String: Any])?["servos"] as? [[String: Any]])
        #expect(servos.compactMap { $0["model"] as? String } == ["XL430-W250", "XL430-W250", "XL330-M288", "XL330-M288", "XL330-M288", "XL330-M288"])
        #expect(servos.compactMap { $0["model_number"] as? Int } == [1060, 1060, 1200, 1200, 1200, 1200])
        let write = try Self.robotd(["write", "--port", bus.link, "--protocol", "dynamixel", "5", "Goal_Position", "3100"])
        #expect(write.status == 0, "\(write.stderr)")
        #expect(write.stdout.contains("Goal_Position of servo 5 = 3100"))
    }

    @Test func scanFindsTheEmulatedKochAt1MbaudAndAMovedServoWithAllRates() throws {
        let emulator = try EmulatorSDKTests.Emulator(arm: "koch")
        defer { _ = emulator.stop() }
        let common = ["--port", emulator.link, "--protocol", "dynamixel"]
        func scan(_ extra: [String]) throws -> [String] {
            let r = try Self.robotd(["scan"] + common + ["--json", "--window-ms", "150"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let servos = try #require((try TestSupport.json(r.stdout) as? [String: Any])?["servos"] as? [[String: Any]])
            return servos.map { "\($0["id"] as? Int ?? -1)@\($0["baud"] as? Int ?? -1)" }
        }
        // 1 Mbaud is the first rate tried: the scan stops there.
        #expect(try scan([]) == (1...6).map { "\($0)@1000000" })
        let moved = try Self.robotd(["set-baud"] + common + ["--baud", "1000000", "2", "57600"])
        #expect(moved.status == 0, "\(moved.stderr)")
        // The servo at 57 600 no longer hears 1 Mbaud; --all-rates finds it at its rate.
        #expect(try scan([]) == [1, 3, 4, 5, 6].map { "\($0)@1000000" })
        #expect(try scan(["--all-rates"]) == [1, 3, 4, 5, 6].map { "\($0)@1000000" } + ["2@57600"])
        let old = try Self.robotd(["read"] + common + ["2", "ID"])
        #expect(old.status == 1)
        let new = try Self.robotd(["read"] + common + ["--baud", "57600", "2", "ID"])
        #expect(new.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "2", "\(new.stderr)")
    }

    @Test func aBusyPortNamesTheHolderFix() throws {
        let bus = try Bus(FeetechResponder(bank: FeetechServoBank(ids: 1...6)))
        let holder = try SerialPorts.open(path: bus.link, baud: 1_000_000).transport
        defer { holder.close() }
        let busy = try Self.robotd(["read", "--port", bus.link, "--protocol", "feetech", "1", "ID"])
        #expect(busy.status == 1)
        #expect(busy.stderr.contains("is busy"))
        #expect(busy.stderr.contains("fuser -v"))
    }

    @Test func aMissingPortANonTTYAndBadArgumentsGiveClearErrors() throws {
        let missing = try Self.robotd(["read", "--port", "/dev/serial/by-id/usb-NOPE", "--protocol", "dynamixel", "1", "ID"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("serial port /dev/serial/by-id/usb-NOPE does not exist"))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-not-a-tty-\(UUID().uuidString)")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let notTTY = try Self.robotd(["scan", "--port", file.path, "--protocol", "feetech", "--baud", "1000000"])
        #expect(notTTY.status == 1)
        #expect(notTTY.stderr.contains("is not a serial port (not a tty)"))

        let badProtocol = try Self.robotd(["scan", "--port", file.path, "--protocol", "can"])
        #expect(badProtocol.status == 64)
        let badID = try Self.robotd(["read", "--port", file.path, "--protocol", "feetech", "300", "ID"])
        #expect(badID.status == 64)
        #expect(badID.stderr.contains("servo id in 0…253"))
        let noValue = try Self.robotd(["write", "--port", file.path, "--protocol", "feetech", "1", "ID"])
        #expect(noValue.status == 64)
    }
}
