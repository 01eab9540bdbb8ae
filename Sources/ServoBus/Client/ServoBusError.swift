/// Why a bus client call failed. Every description names the servo id (where there is one) and,
/// for a status error, the reasons the servo gave.
///
/// Equality compares the code and the servo id only.
public struct ServoBusError: Error, Hashable, CustomStringConvertible, Sendable {
    public enum Code: Hashable, Sendable {
        /// The port failed (`transportError` holds the details and the fix).
        case transport
        /// No valid reply before the deadline, after the transactor's retries.
        case noReply
        /// The servo answered with an error (Dynamixel error number or alert, Feetech ERR bits).
        case status
        /// A reply that passed the checksum but is not what was asked for (wrong size, id).
        case malformedReply
        /// No control-table item of that name (for that model).
        case unknownItem
        /// The item is read-only.
        case readOnly
        /// The value does not fit the item.
        case valueOutOfRange
        /// The request cannot be made (ids not consecutive, an item the group cannot hold, …).
        case invalidRequest
        /// A setting written was not what the servo reported afterwards.
        case verificationFailed
    }

    public let code: Code
    /// The servo concerned, nil for the whole bus.
    public let servoID: UInt8?
    public let message: String
    /// The port's error when `code == .transport`.
    public let transportError: SerialTransportError?

    public init(_ code: Code, servoID: UInt8?, message: String, transportError: SerialTransportError? = nil) {
        self.code = code
        self.servoID = servoID
        self.message = message
        self.transportError = transportError
    }

    public var description: String { message }

    public static func == (a: Self, b: Self) -> Bool { a.code == b.code && a.servoID == b.servoID }
    public func hash(into h: inout Hasher) {
        h.combine(code)
        h.combine(servoID)
    }

    static func transport(_ e: SerialTransportError) -> ServoBusError {
        ServoBusError(.transport, servoID: nil, message: e.message, transportError: e)
    }

    static func noReply(_ id: UInt8, _ what: String, attempts: Int) -> ServoBusError {
        ServoBusError(
            .noReply, servoID: id,
            message: "servo \(id) did not answer \(what) (\(attempts) attempt\(attempts == 1 ? "" : "s")): "
                + "check its id, the baud rate, power and wiring")
    }
}
