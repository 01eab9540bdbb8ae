/// What a framer found at the start of the received bytes.
public enum FrameResult: Sendable, Equatable {
    /// A whole, checked reply (checksum/CRC valid) of `length` bytes from servo `id` starts at
    /// index 0. For a reply that carries no servo id of its own (a Dynamixel fast sync read's
    /// combined packet) `id` is the id in its header (0xFE).
    case complete(length: Int, id: UInt8)
    /// The bytes so far are a valid beginning of a reply; read more.
    case needMore
    /// The first `skip` bytes (≥ 1) cannot begin a valid reply (noise, a bad checksum, an echoed
    /// instruction the protocol can recognise): drop them and frame again.
    case garbage(skip: Int)
}

/// The protocol seam of the transaction layer: finds reply packets in received bytes.
///
/// Dynamixel 2.0 framer (adapter over ServoProtocol's decoder): find `FF FF FD 00` (next byte ≠
/// FD), wait for LEN, check the CRC, `complete(length: LEN + 7, id:)`. Feetech: `FF FF`, LEN,
/// checksum, `complete(length: LEN + 4, id:)`. A framer's answer depends only on the bytes;
/// `frame` is `mutating` only so that a framer may own scratch space (a decoder's parameter
/// buffer with reserved capacity) and stay allocation-free.
///
/// A framer must reject as `.garbage` every header it can prove impossible (reserved bytes,
/// a length above the protocol's largest reply, an instruction byte a reply cannot carry):
/// the transaction layer waits on `.needMore` until its deadline, so noise taken for a header
/// with a made-up length would cost a timeout.
public protocol ReplyFramer {
    /// Looks at the unconsumed received bytes, which always start where the previous frame or
    /// skipped garbage ended.
    /// - Parameter buffer: the bytes (index 0 = oldest); valid only during the call.
    /// - Returns: `.complete` with `length ≤ buffer.count`, `.needMore`, or `.garbage(skip:)`.
    /// - Note: Real-time safe: must not allocate.
    mutating func frame(_ buffer: UnsafeBufferPointer<UInt8>) -> FrameResult
}
