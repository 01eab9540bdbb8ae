/// One `telemetry` notification line, encoded once for every subscriber that receives the same
/// sample: the bytes are `RPCResponse.notification(method: "telemetry", params: sample.json)`
/// exactly, split around the two members that differ between subscribers, `dropped` and
/// `subscription` (keys sorted: `command`, `disagreement`, `dropped`, `effort`, `end_effector`,
/// `loop_time_s`, `mode`, `model_version`, `q`, `subscription`, `tick`, `v`):
///
///     head                                                              dropped
///     {"jsonrpc":"2.0","method":"telemetry","params":{"command":[…],"disagreement":…,"dropped":
///     middle                                                                       subscription
///     ,"effort":[…],"end_effector":[…],"loop_time_s":…,"mode":"…","model_version":…,"q":[…],"subscription":
///     tail
///     ,"tick":…,"v":[…]}}
///
/// A subscriber's line is `head + dropped + middle + subscription + tail` (no newline).
public struct TelemetryLine: Sendable, Equatable {
    public private(set) var head: [UInt8] = []
    public private(set) var middle: [UInt8] = []
    public private(set) var tail: [UInt8] = []
    /// The loop tick the sample was taken at (subscribers sampling the same tick share a line).
    public private(set) var tick: Int = -1

    public init() {}

    /// Encodes `sample`; its `subscription` and `dropped` are ignored (`write` supplies them).
    public init(_ sample: TelemetrySample) {
        encode(sample)
    }

    /// Re-encodes in place, reusing the three buffers' capacity.
    public mutating func encode(_ s: TelemetrySample) {
        tick = s.tick
        head.removeAll(keepingCapacity: true)
        middle.removeAll(keepingCapacity: true)
        tail.removeAll(keepingCapacity: true)
        head.reserveCapacity(256)
        middle.reserveCapacity(512)
        tail.reserveCapacity(256)
        JSONValue.append(#"{"jsonrpc":"2.0","method":"telemetry","params":{"command":"#, to: &head)
        Self.numbers(s.command, to: &head)
        JSONValue.append(#","disagreement":"#, to: &head)
        Self.optional(s.disagreement, to: &head)
        JSONValue.append(#","dropped":"#, to: &head)

        JSONValue.append(#","effort":"#, to: &middle)
        Self.numbers(s.effort, to: &middle)
        JSONValue.append(#","end_effector":"#, to: &middle)
        Self.numbers(s.endEffector, to: &middle)
        JSONValue.append(#","loop_time_s":"#, to: &middle)
        JSONValue.writeNumber(s.loopTimeS, to: &middle)
        JSONValue.append(#","mode":"#, to: &middle)
        JSONValue.writeString(s.mode, to: &middle)
        JSONValue.append(#","model_version":"#, to: &middle)
        if let m = s.modelVersion { JSONValue.writeInteger(Int64(clamping: m), to: &middle) } else { JSONValue.append("null", to: &middle) }
        JSONValue.append(#","q":"#, to: &middle)
        Self.numbers(s.q, to: &middle)
        JSONValue.append(#","subscription":"#, to: &middle)

        JSONValue.append(#","tick":"#, to: &tail)
        JSONValue.writeInteger(Int64(clamping: s.tick), to: &tail)
        JSONValue.append(#","v":"#, to: &tail)
        Self.numbers(s.v, to: &tail)
        JSONValue.append("}}", to: &tail)
    }

    /// Bytes of one subscriber's line, for sizing its buffer (the two integers take ≤ 20 bytes each).
    public var maximumLength: Int { head.count + middle.count + tail.count + 40 }

    /// One subscriber's line (no newline), appended to `out`.
    public func write(subscription: Int, dropped: Int, to out: inout [UInt8]) {
        out.append(contentsOf: head)
        JSONValue.writeInteger(Int64(clamping: dropped), to: &out)
        out.append(contentsOf: middle)
        JSONValue.writeInteger(Int64(clamping: subscription), to: &out)
        out.append(contentsOf: tail)
    }

    /// Calls `body` with the decimal digits of `value` (at most 20 bytes, no allocation).
    @inline(__always)
    public static func withDigits<R>(of value: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &scratch) { d in
            var v = value.magnitude
            var i = d.count
            repeat {
                i -= 1
                d[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while v > 0
            if value < 0 {
                i -= 1
                d[i] = UInt8(ascii: "-")
            }
            return body(UnsafeRawBufferPointer(rebasing: d[i...]))
        }
    }

    private static func numbers(_ xs: [Double], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, x) in xs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeNumber(x, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    private static func optional(_ x: Double?, to out: inout [UInt8]) {
        if let x { JSONValue.writeNumber(x, to: &out) } else { JSONValue.append("null", to: &out) }
    }
}
