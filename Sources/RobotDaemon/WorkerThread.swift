import Foundation
import Synchronization

/// A named background thread (the planner's, the learner's) whose body loops until `stop()`:
/// the body polls `isStopping` between units of work, and `stop()` returns once it has left.
/// - Warning: Not for the control thread (`RealtimeThread` is).
final class WorkerThread: @unchecked Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)

    /// Whether `stop()` has been asked for (the body's loop condition).
    var isStopping: Bool { stopFlag.load(ordering: .acquiring) }

    func start(name: String, stackSize: Int, _ body: @escaping @Sendable () -> Void) {
        precondition(!started.exchange(true, ordering: .acquiringAndReleasing), "\(name) started twice")
        let t = Thread { [self] in
            body()
            finished.store(true, ordering: .releasing)
        }
        t.name = name
        t.stackSize = stackSize
        t.start()
    }

    /// Asks the body to finish and waits until it has (at once when never started).
    func stop() {
        stopFlag.store(true, ordering: .releasing)
        while started.load(ordering: .acquiring), !finished.load(ordering: .acquiring) { usleep(1000) }
    }
}
