import ServoBus
import ServoProtocol

extension CalibrationBus {
    /// The procedure's first step on the bus: clears the offsets (`registersBeforeMiddle`),
    /// reads the raw zero pose (up to 3 reads until every servo answered), and writes the
    /// homing offsets that make it read 2047 (`captureMiddle`).
    /// - Throws: `.bus` naming the joint whose servo failed; `.procedure` from `captureMiddle`.
    public func captureZeroPose(_ procedure: inout CalibrationProcedure) throws(CalibrationError) {
        let ids = procedure.ids, joints = procedure.target.joints
        for (i, r) in procedure.registersBeforeMiddle.enumerated() {
            do throws(ServoBusError) { try writeCalibrationRegisters(ids[i], r) } catch { throw .bus(error, joint: joints[i]) }
        }
        var raw: [Int?] = []
        for _ in 0..<3 where raw.isEmpty || raw.contains(where: { $0 == nil }) {
            do throws(ServoBusError) { raw = try presentPositions(ids) } catch { throw .bus(error) }
        }
        let registers = try procedure.captureMiddle(rawPositions: raw)
        for (i, r) in registers.enumerated() {
            do throws(ServoBusError) { try writeCalibrationRegisters(ids[i], r) } catch { throw .bus(error, joint: joints[i]) }
        }
    }
}
