/// The control socket's method names (docs/protocol.md), shared by the server that registers
/// them and the clients that call them, so a rename cannot leave one side behind.
public enum ControlMethod {
    public static let hello = "hello"
    public static let status = "status"
    public static let timing = "timing"
    public static let configGet = "config.get"
    public static let telemetrySubscribe = "telemetry.subscribe"
    public static let telemetryUnsubscribe = "telemetry.unsubscribe"
    public static let logSetLevel = "log.setLevel"
    public static let modeSet = "mode.set"
    public static let move = "move"
    public static let targetSet = "target.set"
    public static let targetClear = "target.clear"
    public static let policyLoad = "policy.load"
    public static let modelStatus = "model.status"
    public static let modelTrain = "model.train"
    public static let modelRollback = "model.rollback"
    public static let modelSave = "model.save"
    public static let modelLoad = "model.load"
    public static let modelReset = "model.reset"
    public static let calibrationStart = "calibration.start"
    public static let calibrationZero = "calibration.zero"
    public static let calibrationStatus = "calibration.status"
    public static let calibrationFinish = "calibration.finish"
    public static let calibrationCancel = "calibration.cancel"
    public static let estop = "estop"
    public static let reset = "reset"

    /// Notification from the daemon: send the descriptor for request `params.id` now
    /// (docs/protocol.md, "Files").
    public static let fdExpect = "fd.expect"
    /// Notification from the daemon: one telemetry sample for a subscription.
    public static let telemetry = "telemetry"
    /// Notification from the daemon: it is shutting down and closes the connection.
    public static let closing = "closing"
}
