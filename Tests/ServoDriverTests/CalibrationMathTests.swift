import ServoProtocol
import Testing

/// The count ↔ angle map of `ArmCalibration` against its physical meaning: a quarter turn of
/// counts is π/2 rad, direction flips the sign (in software for Feetech only), and goals stay in
/// the calibrated range.
@Suite struct CalibrationMathTests {
    func arm(_ proto: String, driveMode: Int) -> ArmCalibration {
        ArmCalibration(arm: "a", busProtocol: proto, joints: [
            JointCalibration(joint: "j", id: 1, driveMode: driveMode, homingOffset: 0, rangeMin: 1000, rangeMax: 3000, zero: 2047),
        ])
    }

    @Test func quarterTurnIsHalfPi() {
        let c = arm("feetech", driveMode: 0)
        #expect(abs(c.position(joint: 0, count: 2047 + 1024) - Double.pi / 2) < 1e-12)
        #expect(abs(arm("feetech", driveMode: 1).position(joint: 0, count: 2047 + 1024) + Double.pi / 2) < 1e-12)
        // Dynamixel reverses in the servo: the counts already grow with q.
        #expect(abs(arm("dynamixel", driveMode: 1).position(joint: 0, count: 2047 + 1024) - Double.pi / 2) < 1e-12)
    }

    @Test func goalsRoundTripAndClampIntoTheRange() {
        for mode in [0, 1] {
            let c = arm("feetech", driveMode: mode)
            for count in stride(from: 1000, through: 3000, by: 37) {
                #expect(c.goalCount(joint: 0, position: c.position(joint: 0, count: count)) == count)
            }
            #expect(c.goalCount(joint: 0, position: 100) == (mode == 0 ? 3000 : 1000))
            #expect(c.goalCount(joint: 0, position: -100, margin: 10) == (mode == 0 ? 1010 : 2990))
            #expect(c.goalCount(joint: 0, position: .nan) == nil)
        }
    }
}
