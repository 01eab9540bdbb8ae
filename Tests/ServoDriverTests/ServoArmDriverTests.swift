import AllocationCounter
import Foundation
import Glibc
import Platform
import RigidBody
import RobotInterface
import ServoBus
import ServoProtocol
import Testing
@testable import ServoDriver

/// `ServoArmDriver` against the emulated SO-101 (Feetech) and Koch (Dynamixel) on real
/// pseudo-terminals, in-process: the arm never jumps at activation, tracks goals, never gets a
/// goal outside the soft limits or a step above the limit, survives corrupt replies, faults on a
/// lost port and on a servo's overload (naming it), reconnects, and reads/writes without
/// allocating. No wall-clock assertions: bounded polling with generous timeouts.
@Suite(.serialized) struct ServoArmDriverTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let arms = ["so101", "koch"]

    /// An emulated arm on a link in a fresh directory, recording every request.
    final class Rig {
        let arm: String
        let profile: EmulatedArmProfile
        let model: RobotModel
        let dir: String
        let link: String
        let requests: String
        var host: EmulatorHost<EmulatedArm>
        var retired: [EmulatorHost<EmulatedArm>] = []
        let armOptions: EmulatedArmOptions

        init(_ arm: String, overload: [UInt8: Int] = [:], faults: FaultPlan = FaultPlan()) throws {
            self.arm = arm
            profile = EmulatedArmProfile.named(arm)!
            let urdf = try String(contentsOf: ServoArmDriverTests.repoRoot.appendingPathComponent("hardware/robots/\(arm)/robot.urdf"), encoding: .utf8)
            model = try RobotModel(urdfText: urdf)
            var template = Array("/tmp/servodriver-test-XXXXXX".utf8CString)
            dir = String(cString: template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }!)
            link = dir + "/run/\(arm).tty"
            requests = dir + "/requests.hex"
            var o = EmulatedArmOptions()
            o.overload = overload
            o.recordRequestsPath = requests
            armOptions = o
            host = try EmulatedArm.serve(profile: profile, model: model, options: o, host: EmulatorHostConfiguration(linkPath: link, faults: faults))
        }

        deinit {
            host.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// A fresh emulator at the same link (the adapter plugged back in).
        func restart() throws {
            host.stop()
            // Kept alive: EmulatorHost's deinit calls stop() again, which would unlink the new
            // host's link if the new pty reuses the old one's /dev/pts number.
            retired.append(host)
            var o = armOptions
            o.overload = [:]
            host = try EmulatedArm.serve(profile: profile, model: model, options: o, host: EmulatorHostConfiguration(linkPath: link))
        }

        /// Calibration in the emulator's factory mapping (2048 = 0 rad, counts grow with q):
        /// shoulder_pan (no gravity) ±400 counts, the others ±1300.
        func options() -> ServoArmOptions {
            let ids = profile.servos.map(\.id)
            let names = profile.servos.map(\.joint)
            let joints = profile.servos.enumerated().map { k, s in
                let half = k == 0 ? 400 : 1300
                return JointCalibration(joint: s.joint, id: s.id, rangeMin: 2048 - half, rangeMax: 2048 + half, zero: 2048)
            }
            var o = ServoArmOptions(busProtocol: profile.busProtocol == .feetech ? .feetech : .dynamixel, port: link, ids: ids,
                                    jointNames: names, robotName: arm,
                                    calibration: ArmCalibration(arm: arm, busProtocol: profile.busProtocol.rawValue, joints: joints))
            o.effortLimits = profile.servos.map { s in model.joints.first { $0.name == s.joint }!.effortLimit }
            o.diagnosticsHz = 10
            // Two retries: the emulator shares two cores with the build and other tests, and a
            // reply it sends late is a failed attempt, not a fault, for all but the fault tests.
            o.retriesPerCycle = 2
            return o
        }

        /// Waits (bounded) until the recorded writes satisfy `condition`: the emulator records a
        /// request once its thread has read it.
        func waitForWrites(_ condition: ([(torque: Bool, values: [UInt8: Int])]) -> Bool) -> Bool {
            let deadline = MonotonicClock.now() + 5_000_000_000
            while MonotonicClock.now() < deadline {
                if condition(writes()) { return true }
                usleep(2000)
            }
            return false
        }

        /// The goal-position and torque-enable SYNC_WRITEs the emulator received, in order:
        /// (torque?, values by id).
        func writes() -> [(torque: Bool, values: [UInt8: Int])] {
            guard let text = try? String(contentsOfFile: requests, encoding: .utf8) else { return [] }
            var out: [(Bool, [UInt8: Int])] = []
            for line in text.split(separator: "\n") {
                var b: [UInt8] = []
                var i = line.startIndex
                while i < line.endIndex {
                    let j = line.index(i, offsetBy: 2)
                    b.append(UInt8(line[i..<j], radix: 16)!)
                    i = j
                }
                if profile.busProtocol == .feetech {
                    // FF FF FE LEN 83 addr len [id data…]… CHK
                    guard b.count > 8, b[2] == 0xFE, b[4] == 0x83 else { continue }
                    let addr = b[5], len = Int(b[6])
                    guard addr == 42 || addr == 40 else { continue }
                    var values: [UInt8: Int] = [:]
                    var k = 7
                    while k + len < b.count {
                        values[b[k]] = len == 2 ? FeetechSignMagnitude.decode(UInt16(b[k + 1]) | UInt16(b[k + 2]) << 8, signBit: 15) : Int(b[k + 1])
                        k += 1 + len
                    }
                    out.append((addr == 40, values))
                } else {
                    // FF FF FD 00 FE LEN(2) 83 addr(2) len(2) [id data…]… CRC(2)
                    guard b.count > 14, b[4] == 0xFE, b[7] == 0x83 else { continue }
                    let addr = Int(b[8]) | Int(b[9]) << 8, len = Int(b[10]) | Int(b[11]) << 8
                    guard addr == 116 || addr == 64 else { continue }
                    var values: [UInt8: Int] = [:]
                    var k = 12
                    while k + len < b.count - 1 {
                        var v: UInt32 = 0
                        for m in 0..<len { v |= UInt32(b[k + 1 + m]) << (8 * UInt32(m)) }
                        values[b[k]] = len == 4 ? Int(Int32(bitPattern: v)) : Int(v)
                        k += 1 + len
                    }
                    out.append((addr == 64, values))
                }
            }
            return out
        }
    }

    /// Reads until `body` says stop or `seconds` pass; returns whether it stopped.
    static func poll(_ driver: ServoArmDriver, seconds: Double = 5, _ body: (JointState) -> Bool) throws -> Bool {
        var state = JointState(dof: driver.options.dof)
        let deadline = MonotonicClock.now() + UInt64(seconds * 1e9)
        while MonotonicClock.now() < deadline {
            try driver.read(into: &state)
            if state.isValid && body(state) { return true }
            usleep(2000)
        }
        return false
    }

    static func readValid(_ driver: ServoArmDriver) throws -> JointState {
        var state = JointState(dof: driver.options.dof)
        var out = state
        #expect(try poll(driver) { out = $0; return true })
        state = out
        return state
    }

    static func sleep(_ seconds: Double) { usleep(UInt32(seconds * 1e6)) }

    // MARK: activation and tracking

    @Test(arguments: arms) func activationDoesNotMoveTheArm(_ arm: String) throws {
        let rig = try Rig(arm)
        let driver = try ServoArmDriver.connect(rig.options())
        defer { driver.cleanup() }
        try driver.configure()
        let before = try Self.readValid(driver)
        try driver.activate(mode: .position)
        let after = try Self.readValid(driver)
        // The goal written before torque on is the present position then (within the few
        // counts gravity moves a limp arm in a cycle or two).
        #expect(rig.waitForWrites { $0.contains { $0.torque && $0.values.values.allSatisfy { $0 == 1 } } })
        let writes = rig.writes()
        let firstTorqueOn = try #require(writes.firstIndex { $0.torque && $0.values.values.allSatisfy { $0 == 1 } })
        let firstGoal = try #require(writes.firstIndex { !$0.torque })
        #expect(firstGoal < firstTorqueOn, "goal := present must precede torque on")
        let calibration = driver.options.calibration
        for (i, id) in driver.options.ids.enumerated() {
            let goal = calibration.position(joint: i, count: writes[firstGoal].values[id]!)
            #expect(abs(goal - before.position[i]) < 0.05, "joint \(i): goal \(goal) vs present \(before.position[i])")
        }
        // Held for half a second with no command: the arm stays where torque came on.
        var worst = 0.0
        _ = try Self.poll(driver, seconds: 0.5) { s in
            for i in 0..<s.dof { worst = max(worst, abs(s.position[i] - after.position[i])) }
            return false
        }
        #expect(worst < 0.05, "\(arm) moved \(worst) rad after activation")
    }

    @Test(arguments: arms) func tracksPositionGoals(_ arm: String) throws {
        let rig = try Rig(arm)
        let driver = try ServoArmDriver.connect(rig.options())
        defer { driver.cleanup() }
        try driver.configure()
        try driver.activate(mode: .position)
        let start = try Self.readValid(driver)
        let offsets = [0.3, -0.25, 0.25, 0.3, 0.5, 0.3]
        var command = JointCommand(mode: .position, dof: start.dof)
        for i in 0..<start.dof { command.values[i] = start.position[i] + offsets[i] }
        try driver.write(command)
        let tolerance = 0.08
        var last = start
        var wristRollSpeed = (lowest: 0.0, highest: 0.0)
        let reached = try Self.poll(driver, seconds: 8) { s in
            last = s
            wristRollSpeed = (min(wristRollSpeed.lowest, s.velocity[4]), max(wristRollSpeed.highest, s.velocity[4]))
            return (0..<s.dof).allSatisfy { abs(s.position[$0] - command.values[$0]) < tolerance }
        }
        #expect(reached, "\(arm): \(last.position) vs goal \(command.values)")
        // Velocities in rad/s with the joint's sign: wrist_roll (no gravity) ramps +0.5 rad at
        // most 0.01 rad per cycle, so it moves forward at a bus-rate-bound speed.
        #expect(wristRollSpeed.highest > 0.3 && wristRollSpeed.highest < 10 && wristRollSpeed.lowest > -1, "\(wristRollSpeed)")
        // Efforts in N·m: shoulder_lift carries the arm against gravity.
        #expect(abs(last.effort[1]) > 0.01 && abs(last.effort[1]) < 3, "shoulder_lift effort \(last.effort[1]) N·m")
        let status = driver.monitor.snapshot()
        #expect(status.connection == .connected && status.active)
        #expect(status.cycles > 10 && status.failedCycles * 20 < status.cycles)
        #expect(status.servos.allSatisfy { $0.temperatureCelsius != nil && $0.voltageVolts != nil && $0.hardwareErrors.isEmpty })
    }

    // MARK: limits

    @Test(arguments: arms) func stepLimitBoundsEveryGoalSent(_ arm: String) throws {
        let rig = try Rig(arm)
        let options = rig.options()
        let driver = try ServoArmDriver.connect(options)
        defer { driver.cleanup() }
        try driver.configure()
        try driver.activate(mode: .position)
        let start = try Self.readValid(driver)
        var command = JointCommand(mode: .position, dof: start.dof)
        for i in 0..<start.dof { command.values[i] = start.position[i] + (i % 2 == 0 ? 0.25 : -0.25) }
        try driver.write(command)
        Self.sleep(0.4)
        let maxStep = Int((options.maxGoalStep! / (2 * Double.pi / 4096)).rounded(.down))
        let goals = rig.writes().filter { !$0.torque }.map(\.values)
        #expect(goals.count > 20)
        var worst = 0
        for (a, b) in zip(goals, goals.dropFirst()) {
            for id in options.ids { worst = max(worst, abs(b[id]! - a[id]!)) }
        }
        #expect(worst <= maxStep, "a goal moved \(worst) counts in one cycle (limit \(maxStep))")
        #expect(worst == maxStep, "the ramp should run at the limit")
        #expect(driver.monitor.snapshot().limitedGoals > 0)
    }

    @Test(arguments: arms) func nanAndHugeGoalsNeverReachTheBusOutsideTheSoftLimits(_ arm: String) throws {
        let rig = try Rig(arm)
        var options = rig.options()
        options.maxGoalStep = 0.05
        let driver = try ServoArmDriver.connect(options)
        defer { driver.cleanup() }
        try driver.configure()
        try driver.activate(mode: .position)
        let n = options.dof
        var command = JointCommand(mode: .position, values: Array(repeating: .nan, count: n))
        try driver.write(command)
        Self.sleep(0.1)
        #expect(driver.monitor.snapshot().rejectedGoals > 0)
        command.values = (0..<n).map { $0 % 2 == 0 ? 1e9 : -.infinity }
        try driver.write(command)
        Self.sleep(0.1)
        command.values = (0..<n).map { $0 % 2 == 0 ? 1e300 : -1e12 }
        try driver.write(command)
        Self.sleep(1.0)
        let writes = rig.writes()
        let goals = writes.filter { !$0.torque }.map(\.values)
        for g in goals {
            for (i, id) in options.ids.enumerated() {
                let j = options.calibration.joints[i]
                let c = g[id]!
                #expect(c >= j.rangeMin + options.softLimitMargin && c <= j.rangeMax - options.softLimitMargin, "\(arm) servo \(id) goal \(c)")
            }
        }
        // The ramp got to the soft limits and stopped there.
        let last = try #require(goals.last)
        for (i, id) in options.ids.enumerated() {
            let j = options.calibration.joints[i]
            #expect(last[id] == (i % 2 == 0 ? j.rangeMax - options.softLimitMargin : j.rangeMin + options.softLimitMargin))
        }
        // NaN goals hold; a NaN after the ramp keeps the last goal.
        command.values = Array(repeating: .nan, count: n)
        try driver.write(command)
        Self.sleep(0.1)
        #expect(rig.writes().filter { !$0.torque }.last!.values == last)
    }

    // MARK: bus faults

    @Test(arguments: arms) func corruptRepliesAreRetriedAndTheBusKeepsCycling(_ arm: String) throws {
        var faults = FaultPlan()
        faults.random = [.init(.corruptChecksum, probability: 0.05)]
        faults.seed = 42
        let rig = try Rig(arm)
        var options = rig.options()
        // About retries, not faults (silentServoFaultsAfterFailedCyclesInARow): a loaded machine
        // that delays the emulator for a few cycles must not end this test early.
        options.failedCyclesToFault = 20
        let driver = try ServoArmDriver.connect(options)
        defer { driver.cleanup() }
        try driver.configure()
        try driver.activate(mode: .position)
        rig.host.setFaults(faults)
        let before = driver.monitor.snapshot()
        var valid = 0
        _ = try Self.poll(driver, seconds: 3) { _ in
            valid += 1
            return false
        }
        let after = driver.monitor.snapshot()
        #expect(after.retries > before.retries, "corrupt replies must be retried")
        #expect(after.errors > before.errors)
        #expect(after.cycles - before.cycles > 200, "the bus kept cycling: \(after.cycles - before.cycles) cycles")
        #expect(after.connection == .connected && after.lastFault == nil)
        #expect(valid > 100)
        #expect(after.retriesPerSecond > 0)
    }

    @Test(arguments: arms) func lostPortFaultsWithinThreeCyclesAndReconnects(_ arm: String) throws {
        let rig = try Rig(arm)
        let driver = try ServoArmDriver.connect(rig.options())
        defer { driver.cleanup() }
        try driver.configure()
        try driver.activate(mode: .position)
        _ = try Self.readValid(driver)
        let cyclesBefore = driver.monitor.snapshot().cycles
        rig.host.vanish()
        let vanished = MonotonicClock.now()
        var state = JointState(dof: driver.options.dof)
        var caught: DriverError?
        let deadline = MonotonicClock.now() + 5_000_000_000
        while MonotonicClock.now() < deadline {
            do throws(DriverError) {
                try driver.read(into: &state)
                // Never a fresh-looking sample taken after the port went.
                if state.isValid { #expect(state.timestampNanoseconds <= vanished) }
            } catch {
                caught = error
                break
            }
            usleep(500)
        }
        let error = try #require(caught)
        #expect(error.code == .communication)
        let status = driver.monitor.snapshot()
        #expect(status.connection == .faulted)
        let faultCycle = try #require(status.faultCycle)
        #expect(faultCycle - cyclesBefore <= 3, "faulted \(faultCycle - cyclesBefore) cycles after the port went")
        #expect(status.lastFault?.contains(rig.link) == true, "\(status.lastFault ?? "")")
        // Still gone: configure after cleanup fails, and says why.
        driver.deactivate()
        driver.cleanup()
        #expect(throws: DriverError(.communication, "")) { try driver.configure() }
        #expect(driver.lastError?.code == .portMissing)
        // The adapter is back: cleanup + configure reconnects, and activation works again.
        try rig.restart()
        try driver.configure()
        _ = try Self.readValid(driver)
        try driver.activate(mode: .position)
        #expect(driver.monitor.snapshot().connection == .connected)
    }

    @Test(arguments: arms) func silentServoFaultsAfterFailedCyclesInARow(_ arm: String) throws {
        let rig = try Rig(arm)
        let driver = try ServoArmDriver.connect(rig.options())
        defer { driver.cleanup() }
        try driver.configure()
        try driver.activate(mode: .position)
        var state = try Self.readValid(driver)
        rig.host.setSilent(4, true)
        var caught: DriverError?
        var invalidSeen = false
        let deadline = MonotonicClock.now() + 5_000_000_000
        while caught == nil && MonotonicClock.now() < deadline {
            let previous = state.timestampNanoseconds
            do throws(DriverError) {
                try driver.read(into: &state)
                // A failed cycle is reported as not fresh, with the old sample's time.
                if !state.isValid {
                    invalidSeen = true
                    #expect(state.timestampNanoseconds == previous)
                }
            } catch { caught = error }
            usleep(200)
        }
        let error = try #require(caught)
        #expect(error.code == .communication)
        let status = driver.monitor.snapshot()
        #expect(status.failedCycles >= 3)
        #expect(status.servos[3].errors >= 3)
        #expect(status.lastFault?.hasPrefix("servo 4 (wrist_flex): no complete state read in 3 bus cycles in a row") == true, "\(status.lastFault ?? "")")
        _ = invalidSeen  // the loop may read only after the fault latched; either is fine
        // Torque went off on the fault (safe state torqueOff): the last torque write is 0s.
        #expect(rig.waitForWrites { $0.filter(\.torque).last?.values.values.allSatisfy { $0 == 0 } == true })
    }

    @Test(arguments: arms) func overloadedServoFaultsNamingItsJoint(_ arm: String) throws {
        let rig = try Rig(arm, overload: [3: 400])
        let driver = try ServoArmDriver.connect(rig.options())
        defer { driver.cleanup() }
        try driver.configure()
        try driver.activate(mode: .position)
        var state = JointState(dof: driver.options.dof)
        var caught: DriverError?
        let deadline = MonotonicClock.now() + 10_000_000_000
        while caught == nil && MonotonicClock.now() < deadline {
            do throws(DriverError) { try driver.read(into: &state) } catch { caught = error }
            usleep(1000)
        }
        let error = try #require(caught)
        #expect(error.code == .hardware && error.joint == 2)
        let status = driver.monitor.snapshot()
        #expect(status.lastFault == "servo 3 (elbow_flex): overload")
        #expect(status.servos[2].hardwareErrors == ["overload"])
        #expect(status.connection == .faulted)
        driver.deactivate()
        driver.cleanup()
        if arm == "koch" {
            // Dynamixel: the latched error is cleared by a REBOOT at configure (torque is off).
            try driver.configure()
            try driver.activate(mode: .position)
            #expect(driver.monitor.snapshot().servos[2].hardwareErrors.isEmpty)
        } else {
            // Feetech cannot reboot a servo: configure fails and names it.
            #expect(throws: DriverError(.hardware, "")) { try driver.configure() }
            #expect(driver.lastError?.code == .hardwareError)
            #expect(driver.lastError?.description.contains("servo 3 (elbow_flex)") == true)
            #expect(driver.lastError?.description.contains("overload") == true)
        }
    }

    // MARK: start-up errors

    @Test func connectSaysWhatIsWrongWithThePort() throws {
        let rig = try Rig("so101")
        var options = rig.options()
        options.port = rig.dir + "/run/nothing.tty"
        #expect { _ = try ServoArmDriver.connect(options) } throws: { e in
            let e = e as! ServoArmError
            return e.code == .portMissing && e.description.contains(options.port) && e.description.contains("does not exist")
        }
        // Busy: another process (here another open) holds the port.
        let holder = try SerialPorts.open(path: rig.link, baud: 1_000_000).transport
        #expect { _ = try ServoArmDriver.connect(rig.options()) } throws: { e in
            let e = e as! ServoArmError
            return e.code == .portBusy && e.description.contains("fuser -v")
        }
        holder.close()
        // Forbidden: the pty's mode 000 (root opens anything, so the check needs a user).
        if geteuid() != 0 {
            let target = rig.host.slavePath
            chmod(target, 0)
            defer { chmod(target, 0o620) }
            #expect { _ = try ServoArmDriver.connect(rig.options()) } throws: { e in
                let e = e as! ServoArmError
                return e.code == .portForbidden && e.description.contains("dialout")
            }
        }
        // A servo that does not answer: its id and joint.
        rig.host.setSilent(4, true)
        #expect { _ = try ServoArmDriver.connect(rig.options()) } throws: { e in
            let e = e as! ServoArmError
            return e.code == .noReply && e.servoID == 4 && e.description.contains("servo 4 (wrist_flex)")
        }
        rig.host.setSilent(4, false)
        // The wrong family: a Feetech arm driven as Dynamixel finds nobody; options that do not
        // match the calibration are refused before the port is opened.
        var wrong = rig.options()
        wrong.ids = [1, 2, 3, 4, 5, 7]
        #expect(throws: ServoArmError(.invalidOptions, port: "", message: "")) { _ = try ServoArmDriver.connect(wrong) }
        _ = try ServoArmDriver.connect(rig.options()).cleanup()
    }

    @Test func activationRefusesAnUncalibratedJoint() throws {
        let rig = try Rig("so101")
        var options = rig.options()
        options.calibration.joints[3].rangeMin = 2048
        options.calibration.joints[3].rangeMax = 2048
        let driver = try ServoArmDriver.connect(options)
        defer { driver.cleanup() }
        try driver.configure()
        #expect(throws: DriverError(.notConfigured, "")) { try driver.activate(mode: .position) }
        #expect(driver.lastError?.description.contains("servo 4 (wrist_flex)") == true)
        #expect(!rig.writes().contains { $0.torque && $0.values.values.contains(1) }, "torque must stay off")
    }

    // MARK: real-time contract

    @Test(arguments: arms) func readAndWriteAllocateNothing(_ arm: String) throws {
        let rig = try Rig(arm)
        let driver = try ServoArmDriver.connect(rig.options())
        defer { driver.cleanup() }
        try driver.configure()
        try driver.activate(mode: .position)
        var state = try Self.readValid(driver)
        var command = JointCommand(mode: .position, values: state.position)
        // Warm-up.
        try driver.read(into: &state)
        try driver.write(command)
        AllocationCounter_start()
        for k in 0..<2000 {
            try driver.read(into: &state)
            command.values[0] = state.position[0] + (k % 2 == 0 ? 0.001 : -0.001)
            try driver.write(command)
        }
        let allocations = AllocationCounter_stop()
        #expect(allocations == 0)
    }
}
