import ServoBus

/// One servo family's transactions as the driver uses them: identification and settings at
/// configure, then per cycle a goal SYNC_WRITE and a state SYNC_READ, and slow diagnostics.
///
/// Counts are present-position units (homing offset applied by the servo). One thread uses a
/// backend at a time: the caller of `configure`, then the bus I/O thread, then `cleanup`.
protocol ServoBusBackend: AnyObject {
    var options: ServoArmOptions { get }
    var transport: any SerialTransport { get }
    /// The transaction layer's counters since the port was opened.
    var health: BusHealth { get }
    /// Transaction timeouts and retries (per attempt); the driver sets them from the cycle.
    var transactionConfiguration: TransactionConfiguration { get set }
    /// Wire bytes of one cycle (goal write plus state read), for the timeout budget.
    var cycleWireBytes: Int { get }

    /// Pings every servo and checks it is of the bus's family.
    /// - Throws: `.noReply` naming the servo and its joint, `.wrongModel`, port errors.
    func identify() throws(ServoArmError)
    /// The servos that report a latched hardware error: joint index and the error bits
    /// (`hardwareErrorReasons` names them).
    func latchedErrors() throws(ServoArmError) -> [(joint: Int, bits: UInt8)]
    /// Whether a latched error can be cleared by the driver (Dynamixel REBOOT).
    var canReboot: Bool { get }
    /// Whether joint `i`'s servo has torque on.
    func torqueEnabled(joint i: Int) throws(ServoArmError) -> Bool
    /// REBOOTs joint `i`'s servo and waits until it answers again.
    func reboot(joint i: Int) throws(ServoArmError)
    /// Writes the options' settings, EEPROM only where they differ (torque off for those).
    func applySettings() throws(ServoArmError)

    /// Torque on or off for every servo (one SYNC_WRITE).
    func setTorque(_ on: Bool) throws(ServoBusError)
    /// Goal positions (counts) for every servo (one SYNC_WRITE).
    /// - Note: Allocates nothing after the first call.
    func writeGoals(_ counts: UnsafePointer<Int32>) throws(ServoBusError)
    /// SYNC_READ of the state block; returns how many servos answered.
    /// - Note: Allocates nothing.
    func readState() throws(ServoBusError) -> Int
    /// Whether servo `i` answered the last state read.
    func stateValid(_ i: Int) -> Bool
    /// From the last state read (valid servos only):
    func presentCount(_ i: Int) -> Int
    func velocityCountsPerSecond(_ i: Int) -> Double
    /// Present load or current in the servo's raw unit.
    func effortRaw(_ i: Int) -> Double
    /// Fault bits seen in servo `i`'s status during the state read: Feetech's ERR byte (its
    /// fault bits), Dynamixel's alert bit as 0x80 (read the hardware error for the reason).
    func statusFault(_ i: Int) -> UInt8
    /// Reads servo `i`'s hardware error register now (Dynamixel 70, Feetech 65).
    func readHardwareError(joint i: Int) throws(ServoBusError) -> UInt8

    /// The slow reads (temperature, voltage, hardware error); returns whether every servo answered.
    func readDiagnostics() throws(ServoBusError) -> Bool
    /// From the last diagnostics (or state) read; nil when the servo did not answer.
    func voltage(_ i: Int) -> Double?
    func temperature(_ i: Int) -> Double?
    func hardwareError(_ i: Int) -> UInt8?
    /// N·m per raw effort unit of joint `i`'s servo whose stall torque is `effortLimit` (N·m).
    func effortPerUnit(joint i: Int, effortLimit: Double) -> Double
    /// "overload", "overheating", … for error bits.
    func hardwareErrorReasons(_ bits: UInt8) -> [String]
    /// The same client as the calibration registers' reader and writer.
    var calibrationBus: any CalibrationBus { get }
}

extension ServoBusBackend {
    /// Runs a bus call at configure, turning its error into a `ServoArmError` naming `what`.
    func configuring<T>(_ what: @autoclosure () -> String, _ body: () throws(ServoBusError) -> T) throws(ServoArmError) -> T {
        do throws(ServoBusError) { return try body() } catch {
            throw ServoArmError.bus(error, options: options, doing: what())
        }
    }
}
