import LinearAlgebra
import ServoProtocol
import Testing

/// A seeded flood of frames through both decoders: random bytes and valid frames mutated the
/// ways a bus mangles them (truncation, bit flips, a lying LEN, trailing bytes, lost first byte).
/// The decoders must never trap, every unmutated frame must decode to what was encoded, and
/// whatever decodes must re-encode to exactly the bytes it came from.
@Suite struct FeetechRandomFrameTests {
    static let frames = 1_000_000

    struct Generator {
        var rng: SplitMix64
        mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: rng.next()) }
        mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in byte() } }
        mutating func servoID() -> UInt8 { UInt8(int(254)) }
        mutating func ids() -> [UInt8] { (0..<(1 + int(8))).map { _ in servoID() } }

        mutating func command() -> FeetechCommand {
            switch int(8) {
            case 0: return .ping(id: int(4) == 0 ? FeetechPacket.broadcastID : servoID())
            case 1: return .read(id: servoID(), address: byte(), length: UInt8(1 + int(255)))
            case 2: return .write(id: servoID(), address: byte(), data: bytes(1 + int(12)))
            case 3: return .regWrite(id: servoID(), address: byte(), data: bytes(1 + int(4)))
            case 4: return .action(id: int(2) == 0 ? FeetechPacket.broadcastID : servoID())
            case 5: return .reset(id: servoID())
            case 6: return .syncRead(address: byte(), length: UInt8(1 + int(255)), ids: ids())
            default:
                let ids = ids(), length = 1 + int(4)
                return .syncWrite(address: byte(), length: UInt8(length), ids: ids, data: bytes(ids.count * length))
            }
        }

        /// A mutation of `frame`, or nil to keep it intact.
        mutating func mutate(_ frame: [UInt8]) -> [UInt8]? {
            var f = frame
            switch int(7) {
            case 0: return nil
            case 1: f.removeLast(1 + int(f.count))
            case 2: f[int(f.count)] ^= UInt8(1) << UInt8(int(8))
            case 3: f[3] = byte()
            case 4: f += bytes(1 + int(6))
            case 5: f.removeFirst()
            default:
                for _ in 0..<(1 + int(3)) { f[int(f.count)] = byte() }
            }
            return f
        }
    }

    @Test func decodersSurviveAMillionFramesEach() throws {
        var g = Generator(rng: SplitMix64(seed: 0x5EED_F00D))
        var decodedIntact = (instructions: 0, statuses: 0), rejected = 0
        for n in 0..<Self.frames {
            if n % 4 == 0 {
                // Random bytes, half of them behind a valid header so the later checks run.
                var b = g.bytes(g.int(24))
                if g.int(2) == 0 { b = [0xFF, 0xFF] + b }
                for r in [check(instruction: b), check(status: b)] where !r { rejected += 1 }
                continue
            }
            if n % 2 == 0 {
                let command = g.command()
                let frame = try FeetechEncoder.encode(command)
                if let m = g.mutate(frame) {
                    _ = check(instruction: m)
                    _ = check(status: m)
                } else {
                    #expect(FeetechDecoder.decodeInstruction(frame) == .success(command))
                    decodedIntact.instructions += 1
                }
            } else {
                let id = UInt8(g.int(254)), error = UInt8(g.int(128)), params = g.bytes(g.int(20))
                let frame = try FeetechEncoder.status(id: id, error: error, parameters: params)
                if let m = g.mutate(frame) {
                    _ = check(status: m)
                    _ = check(instruction: m)
                } else {
                    let want = FeetechStatus(id: id, error: FeetechStatusError(rawValue: error), parameters: params,
                                             frameLength: frame.count)
                    #expect(FeetechDecoder.decodeStatus(frame, expectedID: id, expectedParameterCount: params.count)
                        == .success(want))
                    decodedIntact.statuses += 1
                }
            }
        }
        // A seventh of each half stays intact: about 35,700 each.
        #expect(decodedIntact.instructions > 30_000 && decodedIntact.statuses > 30_000)
        #expect(rejected > 0)
    }

    /// Decodes as an instruction; on success the command must re-encode to the frame's bytes.
    func check(instruction b: [UInt8]) -> Bool {
        guard case let .success(command) = FeetechDecoder.decodeInstruction(b) else { return false }
        let again = try? FeetechEncoder.encode(command)
        #expect(again.map { $0 == Array(b.prefix($0.count)) } == true, "\(b) → \(command)")
        return true
    }

    /// Decodes as a status; on success the status must re-encode to the frame's bytes.
    func check(status b: [UInt8]) -> Bool {
        guard case let .success(s) = FeetechDecoder.decodeStatus(b) else { return false }
        let again = try? FeetechEncoder.status(id: s.id, error: s.error.rawValue, parameters: s.parameters)
        #expect(again == Array(b.prefix(s.frameLength)), "\(b) → \(s)")
        return true
    }
}
