import RobotInterface
import Synchronization

/// The newest joint state, handed from the bus I/O thread (the one writer) to the control
/// thread (`ServoArmDriver.read`) without locks or allocation: a sequence lock over
/// preallocated storage. The writer makes the sequence odd, writes, makes it even; the reader
/// copies between two equal even reads and retries a bounded number of times (it never waits
/// for the writer).
///
/// The slot also carries the driver's latched fault, so `read` learns of it on the same
/// lock-free path.
final class StateSlot: @unchecked Sendable {
    enum Fault: UInt8, BitwiseCopyable {
        case none = 0
        case communication = 1
        case hardware = 2
    }

    struct Header: BitwiseCopyable {
        /// CLOCK_MONOTONIC time of the newest valid sample (ns); not advanced by a failed cycle.
        var timestampNanoseconds: UInt64 = 0
        /// Whether the newest cycle's read succeeded (the sample is fresh).
        var isValid = false
        var fault = Fault.none
        /// Joint index of a hardware fault, −1 otherwise.
        var faultJoint = -1
        /// Samples published since the slot was reset (valid or not).
        var samples: UInt64 = 0
    }

    let dof: Int
    private let sequence = Atomic<UInt64>(0)
    private let header: UnsafeMutablePointer<Header>
    /// (4 × dof): positions, velocities, efforts (SI), then the present-position counts they
    /// were converted from (exact integers), for calibration.
    private let values: UnsafeMutablePointer<Double>

    init(dof: Int) {
        self.dof = dof
        header = .allocate(capacity: 1)
        header.initialize(to: Header())
        values = .allocate(capacity: 4 * dof)
        values.initialize(repeating: 0, count: 4 * dof)
    }

    deinit {
        header.deallocate()
        values.deallocate()
    }

    /// Writer: publishes a sample (`values` = positions, velocities, efforts, counts; 4 × dof).
    /// - Note: Real-time safe: no allocation, no locks.
    func publish(_ h: Header, values source: UnsafePointer<Double>?) {
        let s = sequence.load(ordering: .relaxed)
        sequence.store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        header.pointee = h
        if let source { values.update(from: source, count: 4 * dof) }
        sequence.store(s &+ 2, ordering: .releasing)
    }

    /// Writer: edits the header only (invalid sample, fault), keeping the values.
    func updateHeader(_ body: (inout Header) -> Void) {
        var h = header.pointee
        body(&h)
        publish(h, values: nil)
    }

    /// Writer-side view of the header (the writer is the only one that changes it).
    var writerHeader: Header { header.pointee }

    /// Reader: copies the newest sample into `state` and returns its header, or nil when the
    /// writer was busy on every attempt (the caller reports no fresh sample).
    /// - Note: Real-time safe: no allocation, no locks, no waiting.
    func read(into state: inout JointState, attempts: Int = 8) -> Header? {
        for _ in 0..<attempts {
            let s1 = sequence.load(ordering: .acquiring)
            if s1 & 1 == 1 { continue }
            let h = header.pointee
            for i in 0..<dof {
                state.position[i] = values[i]
                state.velocity[i] = values[dof + i]
                state.effort[i] = values[2 * dof + i]
            }
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == s1 { return h }
        }
        return nil
    }

    /// Reader: the present-position counts of the newest sample and its header, or nil when
    /// the writer was busy on every attempt.
    /// - Warning: Not real-time safe (allocates the array).
    func readCounts(attempts: Int = 64) -> (Header, [Int])? {
        var counts = Array(repeating: 0, count: dof)
        for _ in 0..<attempts {
            let s1 = sequence.load(ordering: .acquiring)
            if s1 & 1 == 1 { continue }
            let h = header.pointee
            for i in 0..<dof { counts[i] = Int(values[3 * dof + i]) }
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == s1 { return (h, counts) }
        }
        return nil
    }

    /// Reader: the header alone.
    func readHeader() -> Header {
        while true {
            let s1 = sequence.load(ordering: .acquiring)
            if s1 & 1 == 1 { continue }
            let h = header.pointee
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == s1 { return h }
        }
    }
}

/// The single-slot goal mailbox: the control thread (`ServoArmDriver.write`, the one writer)
/// leaves its newest goal positions (rad); the bus I/O thread takes the newest at the start of
/// each cycle. Same sequence-lock protocol as `StateSlot`; the writer never waits, the reader
/// keeps its previous goal when it cannot get a consistent copy.
final class GoalMailbox: @unchecked Sendable {
    let dof: Int
    private let sequence = Atomic<UInt64>(0)
    /// (dof): goal positions (rad).
    private let values: UnsafeMutablePointer<Double>

    init(dof: Int) {
        self.dof = dof
        values = .allocate(capacity: dof)
        values.initialize(repeating: 0, count: dof)
    }

    deinit { values.deallocate() }

    /// Writer: leaves `goals` (rad, `dof` of them).
    /// - Note: Real-time safe: no allocation, no locks.
    func post(_ goals: [Double]) {
        let s = sequence.load(ordering: .relaxed)
        sequence.store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        for i in 0..<dof { values[i] = goals[i] }
        sequence.store(s &+ 2, ordering: .releasing)
    }

    /// Writer: leaves goal_i = goals_i + clamp(τ_ff,i · compliance_i, ±maxOffset) (rad): a servo
    /// that takes no feed-forward torque gets it as a goal offset through its stiffness
    /// (compliance = 1 / K_p, rad per N·m; 0 ignores the feed-forward). A non-finite offset counts
    /// as 0; a non-finite goal stays so (the bus thread rejects it).
    /// - Note: Real-time safe: no allocation, no locks.
    func post(_ goals: [Double], feedforward: [Double], compliance: [Double], maxOffset: Double) {
        let s = sequence.load(ordering: .relaxed)
        sequence.store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        for i in 0..<dof {
            let offset = feedforward[i] * compliance[i]
            values[i] = goals[i] + (offset.isFinite ? min(max(offset, -maxOffset), maxOffset) : 0)
        }
        sequence.store(s &+ 2, ordering: .releasing)
    }

    /// Posts so far (twice the number of writes: the sequence).
    var version: UInt64 { sequence.load(ordering: .acquiring) }

    /// Reader: copies the newest goals into `goals` and returns their version, or nil when the
    /// writer was busy on every attempt.
    func take(into goals: UnsafeMutablePointer<Double>, attempts: Int = 64) -> UInt64? {
        for _ in 0..<attempts {
            let s1 = sequence.load(ordering: .acquiring)
            if s1 & 1 == 1 { continue }
            for i in 0..<dof { goals[i] = values[i] }
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == s1 { return s1 }
        }
        return nil
    }
}
