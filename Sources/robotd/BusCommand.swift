import ArgumentParser
import Foundation
import ServoBus
import ServoProtocol

/// `robotd bus …`: bench tools for a servo bus (scan, item read/write, first-time set-up).
/// Parsing only; the work is `ServoBus.BusTool`.
struct BusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus",
        abstract: "Talk to the servos on a bus: scan, read and write control-table items, set ids and baud rates.",
        discussion: """
            PATH is the adapter (/dev/ttyACM0, /dev/serial/by-id/…) or an emulator's link (run/so101.tty). \
            Items are named as in the control tables of docs/servo-buses.md (Goal_Position, Torque_Enable, \
            Present_Position, …; case-insensitive), values in the table's units. Exit status 1 when the \
            port or a servo fails (the message names the fix), 64 for bad arguments.
            """,
        subcommands: [Scan.self, Read.self, Write.self, SetID.self, SetBaud.self]
    )

    struct BusOptions: ParsableArguments {
        @Option(help: "The serial port.") var port: String
        @Option(name: .customLong("protocol"), help: "dynamixel or feetech.") var family: Family
        @Flag(help: "Print JSON.") var json = false
    }

    enum Family: String, ExpressibleByArgument, CaseIterable {
        case dynamixel, feetech
        var value: ServoProtocolFamily { self == .dynamixel ? .dynamixel : .feetech }
    }

    static func tool(_ o: BusOptions) -> BusTool {
        BusTool(path: o.port, family: o.family.value) { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
    }

    static func servoID(_ text: String, _ what: String) throws -> UInt8 {
        guard let v = Int(text), (0...253).contains(v) else { throw ValidationError("\(what) must be a servo id in 0…253, not \"\(text)\"") }
        return UInt8(v)
    }

    /// Runs `body`, turning a bus failure into a CLI failure (exit 1) with its message.
    static func perform<R>(_ body: () throws(ServoBusError) -> R) throws -> R {
        do throws(ServoBusError) { return try body() } catch { throw CLIError(error.message) }
    }

    static func json(_ s: ScannedServo) -> [String: Any] {
        ["id": Int(s.id), "baud": s.baud, "model_number": Int(s.modelNumber), "model": s.model, "firmware": s.firmware]
    }

    static func json(_ r: ItemReading) -> [String: Any] {
        ["id": Int(r.id), "item": r.item, "address": r.address, "size": r.size, "value": r.value]
    }

    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find the servos on a bus: ids, models, firmware.",
            discussion: """
                Broadcast-pings at --baud, or without it at the common rates in turn (Dynamixel 1M, 57600, \
                115200, 500k, 2M, 3M, 4M; Feetech 1M, 500k, 250k, 128k, 115200, 57600) and stops at the \
                first rate where servos answer (--all-rates: tries them all). Each rate waits about 0.8 s, \
                as the vendors' SDKs do.
                """)
        @OptionGroup var bus: BusOptions
        @Option(parsing: .unconditional, help: "Only this baud rate.") var baud: Int?
        @Flag(help: "Scan every rate, not only up to the first with servos.") var allRates = false
        @Option(parsing: .unconditional, help: "Wait per rate (ms); default the SDKs' broadcast-ping window.") var windowMs: Int?

        func validate() throws {
            if let baud, baud <= 0 { throw ValidationError("--baud must be positive") }
            if let windowMs, !(1...60_000).contains(windowMs) { throw ValidationError("--window-ms must be in 1…60000") }
        }

        func run() throws {
            let tool = BusCommand.tool(bus)
            let bauds = baud.map { [$0] } ?? BusTool.commonBauds(bus.family.value)
            let servos = try BusCommand.perform { () throws(ServoBusError) in
                try tool.scan(bauds: bauds, allRates: allRates, windowNanoseconds: windowMs.map { UInt64($0) * 1_000_000 })
            }
            if bus.json {
                try JSONOutput.print(["port": bus.port, "protocol": bus.family.rawValue, "servos": servos.map(BusCommand.json)])
                return
            }
            if servos.isEmpty {
                print("no servos answered on \(bus.port) at \(bauds.map(String.init).joined(separator: ", ")) baud")
                return
            }
            for s in servos {
                print("id \(s.id)  \(s.model) (model \(s.modelNumber))  firmware \(s.firmware)  \(s.baud) baud")
            }
        }
    }

    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read one control-table item of a servo.")
        @OptionGroup var bus: BusOptions
        @Option(parsing: .unconditional, help: "The bus's baud rate.") var baud = 1_000_000
        @Argument(help: "The servo id.") var id: String
        @Argument(help: "The item, e.g. Present_Position.") var item: String

        func validate() throws {
            _ = try BusCommand.servoID(id, "ID")
            guard baud > 0 else { throw ValidationError("--baud must be positive") }
        }

        func run() throws {
            let tool = BusCommand.tool(bus)
            let servo = try BusCommand.servoID(id, "ID")
            let r = try BusCommand.perform { () throws(ServoBusError) in try tool.read(id: servo, item: item, baud: baud) }
            if bus.json { try JSONOutput.print(BusCommand.json(r)) } else { print("\(r.value)") }
        }
    }

    struct Write: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write one control-table item of a servo, then read it back.",
            discussion: "EEPROM items (ids, limits, offsets, modes) need Torque_Enable 0 (and on Feetech Lock 0) first.")
        @OptionGroup var bus: BusOptions
        @Option(parsing: .unconditional, help: "The bus's baud rate.") var baud = 1_000_000
        @Argument(help: "The servo id.") var id: String
        @Argument(help: "The item, e.g. Goal_Position.") var item: String
        @Argument(parsing: .allUnrecognized, help: "The value, in the table's units (may be negative).") var value: [String]

        func parsedValue() throws -> Int64 {
            guard value.count == 1, let v = Int64(value[0]) else {
                throw ValidationError("expected one integer VALUE after ITEM, got \(value.isEmpty ? "none" : value.joined(separator: " "))")
            }
            return v
        }

        func validate() throws {
            _ = try BusCommand.servoID(id, "ID")
            _ = try parsedValue()
            guard baud > 0 else { throw ValidationError("--baud must be positive") }
        }

        func run() throws {
            let tool = BusCommand.tool(bus)
            let servo = try BusCommand.servoID(id, "ID")
            let v = try parsedValue()
            let r = try BusCommand.perform { () throws(ServoBusError) in try tool.write(id: servo, item: item, value: v, baud: baud) }
            if bus.json { try JSONOutput.print(BusCommand.json(r)) } else { print("\(r.item) of servo \(r.id) = \(r.value)") }
        }
    }

    struct SetID: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-id",
            abstract: "Give a servo a new id (torque off, EEPROM unlocked and locked again, checked).",
            discussion: "Every servo leaves the factory as id 1: connect new servos one at a time.")
        @OptionGroup var bus: BusOptions
        @Option(parsing: .unconditional, help: "The bus's baud rate.") var baud = 1_000_000
        @Argument(help: "The servo's id now.") var old: String
        @Argument(help: "Its new id.") var new: String

        func validate() throws {
            _ = try BusCommand.servoID(old, "OLD")
            _ = try BusCommand.servoID(new, "NEW")
            guard baud > 0 else { throw ValidationError("--baud must be positive") }
        }

        func run() throws {
            let tool = BusCommand.tool(bus)
            let o = try BusCommand.servoID(old, "OLD"), n = try BusCommand.servoID(new, "NEW")
            let s = try BusCommand.perform { () throws(ServoBusError) in try tool.setID(o, to: n, baud: baud) }
            if bus.json { try JSONOutput.print(BusCommand.json(s)) } else { print("servo \(o) is now id \(s.id) (\(s.model))") }
        }
    }

    struct SetBaud: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-baud",
            abstract: "Change a servo's baud rate (torque off, EEPROM unlocked and locked again, checked at the new rate).")
        @OptionGroup var bus: BusOptions
        @Option(parsing: .unconditional, help: "The servo's baud rate now.") var baud = 1_000_000
        @Argument(help: "The servo id.") var id: String
        @Argument(help: "The new baud rate, e.g. 1000000.") var newBaud: Int

        func validate() throws {
            _ = try BusCommand.servoID(id, "ID")
            guard baud > 0, newBaud > 0 else { throw ValidationError("baud rates must be positive") }
        }

        func run() throws {
            let tool = BusCommand.tool(bus)
            let servo = try BusCommand.servoID(id, "ID")
            let s = try BusCommand.perform { () throws(ServoBusError) in try tool.setBaud(servo, from: baud, to: newBaud) }
            if bus.json { try JSONOutput.print(BusCommand.json(s)) } else { print("servo \(s.id) now talks at \(s.baud) baud") }
        }
    }
}
