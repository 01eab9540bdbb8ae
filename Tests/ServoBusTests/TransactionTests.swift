import AllocationCounter
import Glibc
import Platform
import Testing
@testable import ServoBus

/// The transport and the transaction layer against the emulator host on real pseudo-terminals.
/// Timing is asserted as behaviour (a timeout happens, a late reply is not delivered) or as
/// lower bounds (wire time), never as tight upper bounds: the VM stalls.
@Suite(.serialized) struct TransactionTests {
    /// A host on a fresh link, a transport opened through `SerialPorts.open`, a transactor.
    final class Rig {
        let dir = TemporaryDirectory()
        let host: EmulatorHost<EchoResponder>
        let bus: BusTransactor<LengthPrefixedFramer>
        let link: String

        init(baud: Int = 1_000_000, faults: FaultPlan = FaultPlan(), hostEchoes: Bool = false, configure: (inout TransactionConfiguration) -> Void = { _ in }) throws {
            link = dir.path + "/run/arm.tty"
            host = try EmulatorHost(responder: EchoResponder(), configuration: .init(linkPath: link, baud: baud, faults: faults, echoesRequests: hostEchoes))
            let opened = try SerialPorts.open(path: link, baud: baud)
            #expect(opened.device.kind == .pseudoTerminal)
            #expect(opened.transport is PosixTTYTransport)
            var c = TransactionConfiguration()
            c.timeoutNanoseconds = 100_000_000
            c.settleNanoseconds = 50_000_000
            configure(&c)
            bus = BusTransactor(transport: opened.transport, framer: LengthPrefixedFramer(), configuration: c)
        }

        deinit {
            bus.transport.close()
            host.stop()
            dir.remove()
        }

        /// One echo transaction to `id` carrying `seq`; the payload of the reply when complete.
        func echo(id: UInt8, seq: UInt8) throws -> [UInt8]? {
            let outcome = try bus.transact(LengthPrefixed.packet(id: id, payload: [seq]), expectedIDs: [id])
            return outcome == .complete ? LengthPrefixed.answer(LengthPrefixed.payload(bus.reply(0))) : nil
        }
    }

    @Test func echoesThroughTheEmulatorAtItsLink() throws {
        let rig = try Rig()
        for seq in UInt8(0)..<20 {
            #expect(try rig.echo(id: 3, seq: seq) == [seq])
        }
        #expect(rig.bus.health.completed == 20)
        #expect(rig.bus.health.errors == 0)
        #expect(rig.host.statistics.requests == 20)
    }

    /// A transaction allocates nothing on the calling thread once the transactor exists (the
    /// bus thread runs at the servo rate beside the allocation-free tick).
    @Test func transactionsAllocateNothing() throws {
        let rig = try Rig()
        let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
        let request = LengthPrefixed.packet(id: 0xFE, payload: ids)
        #expect(try rig.bus.transact(request, expectedIDs: ids) == .complete)
        var completed = 0
        AllocationCounter_start()
        for _ in 0..<20 {
            if try rig.bus.transact(request, expectedIDs: ids) == .complete { completed += 1 }
        }
        let allocations = AllocationCounter_stop()
        #expect(completed == 20)
        #expect(allocations == 0)
    }

    @Test func syncReadRepliesArriveInListOrder() throws {
        let rig = try Rig()
        let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
        let outcome = try rig.bus.transact(LengthPrefixed.packet(id: 0xFE, payload: ids), expectedIDs: ids)
        #expect(outcome == .complete)
        #expect(rig.bus.replyCount == 6)
        for (i, id) in ids.enumerated() {
            #expect(rig.bus.reply(i) == LengthPrefixed.packet(id: id, payload: [id]))
        }
    }

    /// A broadcast ping's shape: every servo present answers; the window runs to its end.
    @Test func collectKeepsEveryReplyInTheWindow() throws {
        let rig = try Rig()
        rig.host.setSilent(4, true)
        let n = try rig.bus.collect(LengthPrefixed.packet(id: 0xFE, payload: [1, 2, 3, 4, 5]), windowNanoseconds: 200_000_000, maximumReplies: 10)
        #expect(n == 4)
        #expect((0..<n).map { rig.bus.reply($0)[2] } == [1, 2, 3, 5])
        #expect(try rig.echo(id: 1, seq: 3) == [3])
    }

    @Test func aWriteWithoutRepliesOnlyWrites() throws {
        let rig = try Rig()
        #expect(try rig.bus.transact(LengthPrefixed.packet(id: 0xFE, payload: []), expectedIDs: []) == .complete)
        #expect(try rig.echo(id: 1, seq: 9) == [9])
    }

    @Test func aSilentServoTimesOutWithThePartialReplyCount() throws {
        let rig = try Rig { $0.retries = 2 }
        rig.host.setSilent(2, true)
        let outcome = try rig.bus.transact(LengthPrefixed.packet(id: 0xFE, payload: [1, 2, 3]), expectedIDs: [1, 2, 3])
        #expect(outcome == .timedOut(received: 1))
        #expect(rig.bus.replyCount == 1)
        #expect(rig.bus.reply(0) == LengthPrefixed.packet(id: 1, payload: [1]))
        #expect(rig.bus.health.timeouts == 3)
        #expect(rig.bus.health.retries == 2)
        #expect(rig.bus.health.failures == 1)
        // Servo 3's reply follows the missing one; it is not servo 2's, so it is dropped.
        #expect(rig.bus.health.unexpectedReplies >= 1)
        rig.host.setSilent(2, false)
        #expect(try rig.bus.transact(LengthPrefixed.packet(id: 0xFE, payload: [1, 2, 3]), expectedIDs: [1, 2, 3]) == .complete)
    }

    /// The stale-reply bug of dynamixel-sdk ≤ 4.0.4 and feetech-servo-sdk 1.0.0: after one
    /// timeout every later read returned the previous request's reply. Here request 2 is answered
    /// late (after its timeout) in each of the host's two ways; no later transaction may return
    /// its sequence number.
    @Test(arguments: [BusFault.delay(seconds: 0.15), .staleReply(seconds: 0.15)])
    func aLateReplyIsNeverDeliveredToTheNextTransaction(_ fault: BusFault) throws {
        var faults = FaultPlan()
        faults.scripted[2] = fault
        let rig = try Rig(faults: faults) {
            $0.timeoutNanoseconds = 50_000_000
            $0.settleNanoseconds = 400_000_000
            $0.maximumSettleNanoseconds = 2_000_000_000
        }
        #expect(try rig.echo(id: 1, seq: 1) == [1])
        #expect(try rig.echo(id: 1, seq: 2) == nil, "request 2 must time out")
        for seq in UInt8(3)...8 {
            let reply = try rig.echo(id: 1, seq: seq)
            #expect(reply == [seq], "transaction \(seq) got \(String(describing: reply))")
        }
        #expect(rig.bus.health.timeouts == 1)
        #expect(rig.bus.health.discardedBytes > 0, "the late reply was drained, not delivered")
    }

    /// Without a settle wait the input flush before transmission alone drops a late reply that
    /// arrived between two transactions (dynamixel-sdk 4.1.0's fix, `reset_input_buffer`).
    @Test func theInputFlushDropsALateReplyWaitingInTheQueue() throws {
        var faults = FaultPlan()
        faults.scripted[1] = .staleReply(seconds: 0.08)
        let rig = try Rig(faults: faults) {
            $0.timeoutNanoseconds = 30_000_000
            $0.settleNanoseconds = 0
        }
        #expect(try rig.echo(id: 1, seq: 1) == nil)
        usleep(300_000)  // the late reply now waits in the input queue
        #expect(try rig.echo(id: 1, seq: 2) == [2])
    }

    @Test func garbageBeforeARepliesIsSkipped() throws {
        var faults = FaultPlan()
        faults.scripted[1] = .garbage(count: 200)
        let rig = try Rig(faults: faults)
        #expect(try rig.echo(id: 4, seq: 7) == [7])
        #expect(rig.bus.health.garbageBytes > 0)
        #expect(rig.bus.health.timeouts == 0)
    }

    @Test func aCorruptChecksumIsGarbageAndARetryRecovers() throws {
        var faults = FaultPlan()
        faults.scripted[1] = .corruptChecksum
        let rig = try Rig(faults: faults) { $0.retries = 1 }
        #expect(try rig.echo(id: 4, seq: 7) == [7])
        #expect(rig.bus.health.garbageBytes > 0)
        #expect(rig.bus.health.timeouts == 1)
        #expect(rig.bus.health.retries == 1)
        #expect(rig.bus.health.failures == 0)
    }

    @Test func aDroppedReplyTimesOut() throws {
        var faults = FaultPlan()
        faults.scripted[1] = .dropReply
        let rig = try Rig(faults: faults)
        #expect(try rig.echo(id: 4, seq: 7) == nil)
        #expect(try rig.echo(id: 4, seq: 8) == [8])
    }

    /// A 40 kB packet does not fit the pty's buffers (checked first: one non-blocking write
    /// takes only part of it): the write completes through partial writes and EAGAIN waits, and
    /// the reply comes back whole.
    @Test func aPacketLargerThanThePtyBufferIsWrittenWhole() throws {
        let pty = try PseudoTerminal()
        let probe = try PosixTTYTransport(path: pty.slavePath, baud: 1_000_000)
        let big = [UInt8](repeating: 0x42, count: 40_000)
        let accepted = probe.withFileDescriptor { fd in big.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        #expect(accepted > 0 && accepted < big.count, "one write took \(accepted) bytes")
        probe.close()
        pty.close()

        let rig = try Rig(baud: 0) {
            $0.receiveCapacity = 1 << 17
            $0.timeoutNanoseconds = 5_000_000_000
        }
        let payload = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let outcome = try rig.bus.transact(LengthPrefixed.packet(id: 9, payload: payload), expectedIDs: [9])
        #expect(outcome == .complete)
        #expect(LengthPrefixed.payload(rig.bus.reply(0)) == LengthPrefixed.answer(payload))
    }

    /// The host paces replies at 10 bits per byte: at 10 kbaud a 6-servo sync read (request 11 B,
    /// six 6-byte replies) takes at least 47 ms. Lower bound only.
    @Test func repliesArePacedAtTheBaud() throws {
        let rig = try Rig(baud: 10_000)
        let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
        let start = MonotonicClock.now()
        #expect(try rig.bus.transact(LengthPrefixed.packet(id: 0xFE, payload: ids), expectedIDs: ids) == .complete)
        let elapsed = MonotonicClock.now() - start
        #expect(elapsed >= 47_000_000, "elapsed \(elapsed) ns")
    }

    /// The test protocol, like Feetech, cannot tell an echoed request from a reply: on an
    /// adapter that echoes, the echo is consumed first; without that the echo is taken for the
    /// reply (what crashed the Feetech SDK, hardware-notes §5 pitfall 5).
    @Test func theEchoOfAnEchoingAdapterIsConsumed() throws {
        let rig = try Rig(hostEchoes: true) { $0.adapterEchoes = true }
        for seq in UInt8(0)..<5 { #expect(try rig.echo(id: 2, seq: seq) == [seq]) }
        let naive = try Rig(hostEchoes: true)
        #expect(try naive.echo(id: 2, seq: 5) == [5 ^ 0x80], "the echo passes for the reply")
    }

    /// Random drops from a seeded plan: each dropped reply costs exactly one timeout and one
    /// retry, and every transaction still completes with its own data.
    @Test func randomDropsAreRetriedAndCounted() throws {
        var faults = FaultPlan()
        faults.random = [.init(.dropReply, probability: 0.3)]
        faults.seed = 42
        let rig = try Rig(faults: faults) {
            $0.retries = 6
            $0.timeoutNanoseconds = 60_000_000
            $0.settleNanoseconds = 5_000_000
        }
        for seq in UInt8(0)..<20 {
            #expect(try rig.echo(id: 5, seq: seq) == [seq])
        }
        let dropped = rig.host.statistics.faultsInjected
        #expect(dropped > 0)
        #expect(rig.bus.health.timeouts == dropped)
        #expect(rig.bus.health.retries == dropped)
        #expect(rig.bus.health.failures == 0)
    }

    @Test func wireTimeIsTenBitsPerByte() {
        #expect(WireTime.nanoseconds(bytes: 110, baud: 1_000_000) == 1_100_000)
        #expect(WireTime.nanoseconds(bytes: 1, baud: 57_600) == 173_611)
    }

    @Test func theVanishedPortGivesAClearError() throws {
        let rig = try Rig()
        #expect(try rig.echo(id: 1, seq: 1) == [1])
        rig.host.vanish()
        #expect(!exists(rig.link), "the link goes with the port")
        let error = #expect(throws: SerialTransportError.self) { try rig.echo(id: 1, seq: 2) }
        #expect(error?.code == .vanished)
        #expect(error?.description.contains("went away") == true)
        #expect(rig.bus.health.transportErrors == 1)
    }

    @Test func aScriptedVanishHappensAtItsRequest() throws {
        var faults = FaultPlan()
        faults.scripted[2] = .vanish
        let rig = try Rig(faults: faults)
        #expect(try rig.echo(id: 1, seq: 1) == [1])
        let error = #expect(throws: SerialTransportError.self) {
            for seq in UInt8(2)..<10 { _ = try rig.echo(id: 1, seq: seq) }
        }
        #expect(error?.code == .vanished)
    }
}
