import LinearAlgebra
import ServoProtocol
import Testing

/// Seeded random frames through every Dynamixel decoder: random bytes and valid frames mutated by
/// truncation, bit flips, length lies, garbage prefixes and echoes. No input may trap; every
/// valid frame decodes back to what was encoded; any frame that decodes re-encodes to exactly
/// the bytes it was decoded from (stuffing and CRC are canonical).
@Suite struct DynamixelFuzzTests {
    static let frames = 1_000_000

    struct Generator {
        var rng: SplitMix64
        mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: rng.next()) }
        /// Bytes biased toward the header bytes, so stuffing and resynchronisation are exercised.
        mutating func body(_ n: Int) -> [UInt8] {
            (0..<n).map { _ in
                switch int(4) { case 0: 0xFF; case 1: 0xFD; default: byte() }
            }
        }
        mutating func id() -> UInt8 { UInt8(int(253)) }

        /// A valid packet; `status` picks the kind. Returns the bytes and what they must decode to.
        mutating func valid(status: Bool) -> (bytes: [UInt8], id: UInt8, code: UInt8, parameters: [UInt8]) {
            let id = status ? self.id() : (int(8) == 0 ? 0xFE : self.id())
            let params = body(int(24))
            if status {
                let err = byte()
                var out: [UInt8] = []
                DynamixelEncoder.status(id: id, error: DynamixelStatusError(rawValue: err), parameters: params, into: &out)
                return (out, id, err, params)
            }
            var code = byte()
            if code == 0x55 { code = 0x03 }
            var out: [UInt8] = []
            DynamixelEncoder.instruction(id: id, DynamixelInstruction(rawValue: code), parameters: params, into: &out)
            return (out, id, code, params)
        }

        /// One fuzz input of kind `k` built around a valid frame.
        mutating func mutate(_ f: [UInt8], kind k: Int) -> [UInt8] {
            var f = f
            switch k {
            case 0: return body(int(48))
            case 1: return Array(f.prefix(int(f.count)))
            case 2:
                for _ in 0...int(3) { f[int(f.count)] ^= 1 << UInt8(int(8)) }
                return f
            case 3:
                // A length lie, with the CRC made consistent half of the time.
                let len = int(4) == 0 ? int(65536) : max(0, Int(f[5]) + int(9) - 4)
                f[5] = UInt8(len & 0xFF); f[6] = UInt8(len >> 8)
                if int(2) == 0 {
                    let end = min(f.count, 7 + len) - 2
                    if end > 0 {
                        let crc = DynamixelCRC.checksum(f[..<end])
                        f[end] = UInt8(crc & 0xFF); f[end + 1] = UInt8(crc >> 8)
                    }
                }
                return f
            case 4: return (0..<int(8)).map { _ in UInt8(int(0xFF)) } + f  // garbage without 0xFF
            default: return f + body(int(8))  // trailing bytes are the next packet's
            }
        }
    }

    @Test func statusDecoderNeverTrapsAndRoundTrips() {
        var g = Generator(rng: SplitMix64(seed: 0x5EED_D7A1))
        var params: [UInt8] = []
        params.reserveCapacity(1100)
        var roundTrips = 0, mismatches = 0, validFailures = 0, decoded = 0
        for n in 0..<Self.frames {
            let v = g.valid(status: true)
            let kind = n % 7
            let input = kind == 6 ? v.bytes : g.mutate(v.bytes, kind: kind)
            let skip = kind == 4
            let result: Result<DynamixelStatusHeader, DynamixelDecodeError> = input.withUnsafeBufferPointer { b in
                do throws(DynamixelDecodeError) {
                    return .success(try DynamixelDecoder.decodeStatus(b, skippingGarbage: skip, into: &params))
                } catch { return .failure(error) }
            }
            if case let .success(h) = result {
                decoded += 1
                let again = DynamixelEncoder.status(id: h.id, error: h.error, parameters: params)
                if Array(input[h.range]) != again { mismatches += 1 }
            }
            if kind == 6 || kind == 4 || kind == 5 {
                if case let .success(h) = result, h.id == v.id, h.error.rawValue == v.code, params == v.parameters {
                    roundTrips += 1
                } else { validFailures += 1 }
            }
        }
        #expect(validFailures == 0)
        #expect(mismatches == 0)
        #expect(roundTrips > 3 * Self.frames / 7 - 10)
        // The TX echo of any instruction is named as such.
        var echoes = 0
        for _ in 0..<10_000 {
            let v = g.valid(status: false)
            do throws(DynamixelDecodeError) { _ = try DynamixelDecoder.decodeStatus(v.bytes) } catch {
                if error == .echoedInstruction(DynamixelInstruction(rawValue: v.code)) { echoes += 1 }
            }
        }
        #expect(echoes == 10_000)
        #expect(decoded > roundTrips)
    }

    @Test func instructionDecoderNeverTrapsAndRoundTrips() {
        var g = Generator(rng: SplitMix64(seed: 0xD1A_C0DE))
        var mismatches = 0, validFailures = 0, commands = 0
        for n in 0..<Self.frames {
            let v = g.valid(status: false)
            let kind = n % 7
            let input = kind == 6 ? v.bytes : g.mutate(v.bytes, kind: kind)
            let skip = kind == 4
            switch Result(catching: { () throws(DynamixelDecodeError) in try DynamixelDecoder.decodeInstruction(input, skippingGarbage: skip) }) {
            case let .success(p):
                var again: [UInt8] = []
                DynamixelEncoder.instruction(id: p.id, p.instruction, parameters: p.parameters, into: &again)
                if Array(input[p.range]) != again { mismatches += 1 }
                if (try? DynamixelCommand(p)) != nil { commands += 1 }
                if kind >= 4 && (p.id != v.id || p.instruction.rawValue != v.code || p.parameters != v.parameters) { validFailures += 1 }
            case .failure:
                if kind >= 4 { validFailures += 1 }
            }
        }
        #expect(validFailures == 0)
        #expect(mismatches == 0)
        #expect(commands > 0)
    }

    @Test func fastReplyDecoderNeverTrapsAndRoundTrips() {
        var g = Generator(rng: SplitMix64(seed: 0xFA57))
        var validFailures = 0, decoded = 0
        for n in 0..<Self.frames {
            let count = 1 + g.int(6), length = 1 + g.int(10)
            let ids = (0..<count).map { _ in g.id() }
            let blocks = ids.map { DynamixelFastReplyBlock(id: $0, error: DynamixelStatusError(rawValue: g.byte()), data: g.body(length)) }
            let valid = DynamixelEncoder.fastReply(blocks)
            let kind = n % 7
            let input = kind == 6 ? valid : g.mutate(valid, kind: kind)
            let r = Result { () throws(DynamixelDecodeError) in
                try DynamixelDecoder.decodeFastSyncReadReply(input, ids: ids, dataLength: length, skippingGarbage: kind == 4)
            }
            if case .success = r { decoded += 1 }
            if kind >= 4, (try? r.get())?.blocks != blocks { validFailures += 1 }
        }
        #expect(validFailures == 0)
        #expect(decoded >= 3 * Self.frames / 7)
    }

    /// Instruction packets with random bytes never trap the servo bank either.
    @Test func servoBankSurvivesRandomInstructions() {
        var g = Generator(rng: SplitMix64(seed: 0xBA4C))
        var bank = DynamixelServoBank((1...6).map { .init(id: $0, model: $0 <= 2 ? .xl430W250 : .xl330M288) })
        var replies = 0
        for n in 0..<100_000 {
            let v = g.valid(status: false)
            let input = n % 3 == 0 ? g.mutate(v.bytes, kind: n % 6) : v.bytes
            replies += bank.handle(bytes: input).count
            if bank.ids.count < 6 { bank = DynamixelServoBank((1...6).map { .init(id: $0, model: .xl330M288) }) }
        }
        #expect(replies > 0)
    }
}
