/// A fault the emulator host injects into the answer to one request.
public enum BusFault: Sendable, Equatable, Hashable {
    /// The request goes unanswered.
    case dropReply
    /// Every reply's last byte (the checksum, or the CRC's high byte) is inverted.
    case corruptChecksum
    /// The replies leave this much later than they would (s); the bus stays busy meanwhile, so
    /// later requests wait behind them (a servo busy or a host stalled).
    case delay(seconds: Double)
    /// The replies leave this much later (s) while the host goes on answering later requests:
    /// a late reply that lands in the client's input queue behind its own transaction, the case
    /// that leaves the official SDKs one reply behind forever (hardware-notes §5 pitfall 4).
    case staleReply(seconds: Double)
    /// `count` random bytes go out on the wire before the replies.
    case garbage(count: Int)
    /// Instead of answering, the port disappears: the master closes and the link is removed
    /// (an unplugged adapter).
    case vanish
}

/// Which faults the host injects: scripted by request number, random by probability, and a
/// set of servos that do not answer.
public struct FaultPlan: Sendable, Equatable {
    /// A fault drawn at random for each request with `probability` (0…1).
    public struct RandomFault: Sendable, Equatable {
        public var fault: BusFault
        public var probability: Double
        public init(_ fault: BusFault, probability: Double) {
            self.fault = fault
            self.probability = probability
        }
    }

    /// Faults for particular requests, by number: 1 = the first complete request the host sees.
    public var scripted: [Int: BusFault] = [:]
    /// Faults drawn for requests without a scripted one; the first that hits applies.
    public var random: [RandomFault] = []
    /// Servos whose replies are suppressed (a servo that stopped answering).
    public var silentServos: Set<UInt8> = []
    /// Seed of the random faults and garbage bytes, so a run can be repeated.
    public var seed: UInt64 = 0x5EED

    public init() {}
}

/// SplitMix64: small, seedable, good enough for fault draws and noise bytes.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}
