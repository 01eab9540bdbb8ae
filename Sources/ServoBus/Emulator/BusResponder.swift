/// One reply packet an emulated servo puts on the bus.
public struct BusReply: Sendable, Equatable {
    /// The servo that sends it, so the host can silence a servo by id; nil when the reply is
    /// not one servo's (the host never silences it).
    public var servoID: UInt8?
    /// Time between the end of the previous transmission on the wire and the first byte of
    /// this reply (s): the servo's return delay.
    public var delaySeconds: Double
    /// The packet, checksum/CRC included.
    public var bytes: [UInt8]
    /// The servos whose parts make up a combined reply (a Dynamixel fast sync/bulk read), in
    /// chain order; empty for one servo's reply. On a real bus each servo appends its part, so
    /// one that stays silent breaks the packet: the host then sends none of it.
    public var combinedServoIDs: [UInt8]

    public init(servoID: UInt8?, delaySeconds: Double = 0, bytes: [UInt8], combinedServoIDs: [UInt8] = []) {
        self.servoID = servoID
        self.delaySeconds = delaySeconds
        self.bytes = bytes
        self.combinedServoIDs = combinedServoIDs
    }
}

/// The answer to one complete request: zero replies (a write to broadcast, a status return
/// level that says nothing) or several (a sync read, in list order).
public struct BusResponse: Sendable, Equatable {
    public var replies: [BusReply]
    public init(_ replies: [BusReply]) { self.replies = replies }
}

/// The protocol seam of the emulator host: a bank of emulated servos (Dynamixel or Feetech,
/// adapted from ServoProtocol's pure state machines) that turns request bytes into replies.
///
/// The host feeds whatever bytes arrived, in any chunking: a request may come in pieces, or
/// several at once, or after noise. The responder buffers and frames requests itself and
/// returns one `BusResponse` per complete request, in order; the host counts these to number
/// requests for scripted faults and paces the replies at the baud.
public protocol BusResponder {
    /// Consumes received bytes.
    /// - Parameters:
    ///   - bytes: the new bytes (valid only during the call).
    ///   - time: when they arrived, on `MonotonicClock.now()` (ns): an emulated arm advances its
    ///     physics to this time before it answers, so positions move between reads.
    /// - Returns: one response per request completed by these bytes, in arrival order.
    mutating func receive(_ bytes: UnsafeBufferPointer<UInt8>, atNanoseconds time: UInt64) -> [BusResponse]

    /// Called by the host while the line is quiet (about every `EmulatorHost.idlePeriodNanoseconds`),
    /// so that work that tracks time (an emulated arm's physics) keeps up between requests
    /// instead of catching up in one burst when the next request arrives — a burst that can
    /// outlast a client's reply timeout.
    mutating func idle(atNanoseconds time: UInt64)

    /// The rate (bits/s) the client's side of the line is set to, for the bytes `receive` gets
    /// next; nil when the host cannot tell. A servo set to another rate would see framing errors:
    /// it neither acts on nor answers what it receives. The default ignores the rate.
    mutating func setLineRate(_ bitsPerSecond: Int?)
}

extension BusResponder {
    public mutating func idle(atNanoseconds time: UInt64) {}
    public mutating func setLineRate(_ bitsPerSecond: Int?) {}
}
