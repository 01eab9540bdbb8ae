import Foundation
import Glibc
@testable import ServoBus

/// A trivial protocol for exercising the I/O layer without Dynamixel or Feetech:
/// `AA 55 | id | len_L len_H | ~(id + len_L + len_H) | payload(len) | sum` where `sum` is the low
/// byte of the sum of all previous bytes. The header check makes noise unlikely to pass for a
/// header (as Dynamixel's `FF FF FD 00` does), so random bytes cannot hold the framer in
/// `needMore` with a made-up length. Requests and replies have the same shape. A request to id
/// 0xFE whose payload is a list of ids is a "sync read": each listed servo replies with payload
/// `[id]`, in order. Any other request is answered by its servo with the payload's bytes XOR 0x80
/// (so an echoed request differs from its reply).
enum LengthPrefixed {
    static func packet(id: UInt8, payload: [UInt8]) -> [UInt8] {
        let l = UInt8(payload.count & 0xFF), h = UInt8(payload.count >> 8)
        var p: [UInt8] = [0xAA, 0x55, id, l, h, ~(id &+ l &+ h)] + payload
        p.append(p.reduce(0, &+))
        return p
    }

    /// The framing both sides use.
    static func frame(_ b: UnsafeBufferPointer<UInt8>) -> FrameResult {
        guard let first = b.first else { return .needMore }
        guard first == 0xAA else {
            var skip = 1
            while skip < b.count && b[skip] != 0xAA { skip += 1 }
            return .garbage(skip: skip)
        }
        guard b.count >= 6 else { return .needMore }
        guard b[1] == 0x55, b[5] == ~(b[2] &+ b[3] &+ b[4]) else { return .garbage(skip: 1) }
        let total = 7 + Int(b[3]) + Int(b[4]) << 8
        guard b.count >= total else { return .needMore }
        var sum: UInt8 = 0
        for i in 0..<(total - 1) { sum &+= b[i] }
        return sum == b[total - 1] ? .complete(length: total, id: b[2]) : .garbage(skip: 1)
    }

    static func payload(_ packet: [UInt8]) -> [UInt8] { Array(packet[6..<(packet.count - 1)]) }

    /// A servo's answer to an echo request carrying `payload`.
    static func answer(_ payload: [UInt8]) -> [UInt8] { payload.map { $0 ^ 0x80 } }
}

struct LengthPrefixedFramer: ReplyFramer {
    func frame(_ buffer: UnsafeBufferPointer<UInt8>) -> FrameResult { LengthPrefixed.frame(buffer) }
}

/// The emulated servos of the test protocol.
struct EchoResponder: BusResponder {
    var pending: [UInt8] = []
    var returnDelaySeconds = 0.0

    mutating func receive(_ bytes: UnsafeBufferPointer<UInt8>, atNanoseconds time: UInt64) -> [BusResponse] {
        pending.append(contentsOf: bytes)
        var responses: [BusResponse] = []
        while !pending.isEmpty {
            let result = pending.withUnsafeBufferPointer { LengthPrefixed.frame($0) }
            switch result {
            case .needMore:
                return responses
            case .garbage(let skip):
                pending.removeFirst(skip)
            case .complete(let length, let id):
                let request = Array(pending[0..<length])
                pending.removeFirst(length)
                let payload = LengthPrefixed.payload(request)
                if id == 0xFE {
                    responses.append(BusResponse(payload.map {
                        BusReply(servoID: $0, delaySeconds: returnDelaySeconds, bytes: LengthPrefixed.packet(id: $0, payload: [$0]))
                    }))
                } else {
                    responses.append(BusResponse([
                        BusReply(servoID: id, delaySeconds: returnDelaySeconds, bytes: LengthPrefixed.packet(id: id, payload: LengthPrefixed.answer(payload)))
                    ]))
                }
            }
        }
        return responses
    }
}

/// A fresh directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String
    init() {
        var template = Array("/tmp/servobus-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func exists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}
