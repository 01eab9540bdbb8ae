import AllocationCounter
import ServoProtocol
import Testing

/// The bus cycle's protocol work allocates nothing once its buffers exist: encoding a sync write
/// of goals and a sync read into reused buffers, and decoding six replies in place.
@Suite struct FeetechAllocationTests {
    @Test func syncCycleEncodesAndDecodesWithoutAllocating() throws {
        let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
        var goals = [UInt8](repeating: 0, count: 12)
        var writePacket: [UInt8] = [], readPacket: [UInt8] = []
        writePacket.reserveCapacity(64); readPacket.reserveCapacity(64)
        var bank = FeetechServoBank(ids: ids)
        for id in ids { bank.setPresentPosition(-100 * Int(id), id: id) }
        let replies = bank.handle(packet: try FeetechEncoder.syncRead(address: 56, length: 2, ids: ids)).flatMap(\.bytes)
        var positions = [Int](repeating: 0, count: 6)

        func cycle(_ k: Int) throws {
            for i in 0..<6 {
                let raw = FeetechSignMagnitude.encode(k - 3 * i, signBit: 15) ?? 0
                (goals[2 * i], goals[2 * i + 1]) = STS3215.series.bytes(of: raw)
            }
            try FeetechEncoder.syncWrite(address: 42, length: 2, ids: ids, data: goals, into: &writePacket)
            try FeetechEncoder.syncRead(address: 56, length: 2, ids: ids, into: &readPacket)
            replies.withUnsafeBufferPointer { all in
                var offset = 0
                for i in 0..<6 {
                    let p = UnsafeBufferPointer(rebasing: all[offset...])
                    guard case let .success(f) = FeetechDecoder.decodeStatusFrame(p, expectedID: ids[i], expectedParameterCount: 2)
                    else { return }
                    let raw = STS3215.series.word(p[f.parameterOffset], p[f.parameterOffset + 1])
                    positions[i] = FeetechSignMagnitude.decode(raw, signBit: 15)
                    offset += f.frameLength
                }
            }
        }
        for k in 0..<2 { try cycle(k) }
        AllocationCounter_start()
        for k in 0..<100 { try cycle(k) }
        let count = AllocationCounter_stop()
        #expect(count == 0, "\(count) allocations in 100 sync cycles")
        #expect(positions == [-100, -200, -300, -400, -500, -600])
        #expect(writePacket.count == 26 && readPacket.count == 14)
    }

    /// The counter itself must see allocations, or the test above proves nothing.
    @Test func counterSeesAllocations() {
        AllocationCounter_start()
        let a = [Int](repeating: 1, count: Int.random(in: 100...200))
        let count = AllocationCounter_stop()
        #expect(a.count >= 100 && count >= 1)
    }
}
