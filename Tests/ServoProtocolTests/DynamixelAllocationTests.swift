import AllocationCounter
import ServoProtocol
import Testing

/// The bus cycle (sync write of goals, sync read of state, decode of each status) runs at several
/// hundred Hz: once its buffers exist, encoding and decoding allocate nothing.
@Suite struct DynamixelAllocationTests {
    @Test func syncCycleCodecDoesNotAllocate() throws {
        let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
        let goals: [Int32] = [100, -200, 300, -400, 500, 0x7FFF_FDFF]  // the last one needs stuffing
        var tx: [UInt8] = []
        tx.reserveCapacity(256)
        var params: [UInt8] = []
        params.reserveCapacity(256)
        let reply = DynamixelEncoder.status(id: 3, parameters: [0xFF, 0xFF, 0xFD, 0, 1, 2, 3, 4, 5, 6])
        var decodedOK = 0
        func cycle() {
            tx.removeAll(keepingCapacity: true)
            DynamixelEncoder.syncWrite(address: 116, width: 4, ids: ids, values: goals, into: &tx)
            tx.removeAll(keepingCapacity: true)
            DynamixelEncoder.syncRead(address: 126, length: 10, ids: ids, into: &tx)
            tx.removeAll(keepingCapacity: true)
            DynamixelEncoder.fastSyncRead(address: 126, length: 10, ids: ids, into: &tx)
            tx.removeAll(keepingCapacity: true)
            DynamixelEncoder.read(id: 1, address: 132, length: 4, into: &tx)
            reply.withUnsafeBufferPointer { b in
                do throws(DynamixelDecodeError) {
                    let h = try DynamixelDecoder.decodeStatus(b, expectedID: 3, expectedParameterCount: 10, into: &params)
                    if h.error.succeeded { decodedOK += 1 }
                } catch {}
            }
        }
        for _ in 0..<2 { cycle() }
        AllocationCounter_start()
        for _ in 0..<100 { cycle() }
        let count = AllocationCounter_stop()
        #expect(count == 0, "\(count) allocations in 100 sync cycles")
        #expect(decodedOK == 102)
        // The counter must see allocations here too, or the zero above proves nothing.
        AllocationCounter_start()
        let fresh = DynamixelEncoder.ping(id: 1)
        #expect(AllocationCounter_stop() > 0 && fresh.count == 10)
        #expect(params == [0xFF, 0xFF, 0xFD, 0, 1, 2, 3, 4, 5, 6])
    }
}
