import CLinuxRT
import Glibc

/// A dedicated OS thread for the control loop (not a Swift task: the cooperative pool must
/// never run the tick). On start it asks for SCHED_FIFO at `priority`, locks memory and pins
/// itself to a CPU as configured; what the kernel refused is reported, not fatal: without
/// CAP_SYS_NICE it runs SCHED_OTHER. Its timer slack is 1 ns either way (a SCHED_FIFO thread's
/// sleeps have none; a SCHED_OTHER thread's default 50 µs would be added to every wake-up).
public final class RealtimeThread: @unchecked Sendable {
    public struct Options: Sendable, Equatable {
        /// SCHED_FIFO priority 1…99; nil = stay SCHED_OTHER.
        public var priority: Int32? = 80
        /// CPU to pin the thread to.
        public var cpu: Int? = nil
        /// With `cpu`: move every other thread of the process off that CPU (those that may run
        /// elsewhere), so that no thread of ours shares it with the loop; threads started later
        /// inherit their creators' narrower masks. For the daemon's process only: a test runner
        /// starting a control thread in-process keeps its threads where they are.
        public var reserveCPU = false
        /// mlockall(MCL_CURRENT | MCL_FUTURE) so that page faults cannot stall the loop.
        public var lockMemory = true
        /// Thread name (≤ 15 bytes), shown by ps/top.
        public var name = "robotd-control"

        public init() {}
    }

    /// What the thread actually got.
    public struct Achieved: Sendable, Equatable {
        public enum Scheduler: Sendable, Equatable {
            case fifo(priority: Int32)
            case other
        }
        public var scheduler: Scheduler = .other
        public var memoryLocked = false
        public var cpu: Int? = nil
        /// Threads of the process moved off `cpu` (`Options.reserveCPU`).
        public var threadsMovedOff = 0
        /// The thread's timer slack once set up (ns; `prctl(PR_GET_TIMERSLACK)`): 1, or 0 where
        /// the kernel zeroes it for SCHED_FIFO threads; nil if it could not be read.
        public var timerSlackNanoseconds: Int? = nil
        /// Human-readable reasons for anything not granted, for the caller to log.
        public var warnings: [String] = []

        public init() {}

        public var schedulerName: String {
            if case .fifo = scheduler { return "fifo" }
            return "other"
        }
    }

    private var thread: pthread_t?
    private let body: @Sendable (Achieved) -> Void
    private let options: Options
    private let started = Semaphore()
    private var achieved = Achieved()

    private init(options: Options, body: @escaping @Sendable (Achieved) -> Void) {
        self.options = options
        self.body = body
    }

    /// Starts the thread; returns once it has applied its settings.
    /// - Warning: Not real-time safe.
    public static func start(options: Options, _ body: @escaping @Sendable (Achieved) -> Void) -> RealtimeThread {
        let t = RealtimeThread(options: options, body: body)
        let unmanaged = Unmanaged.passRetained(t)
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let me = Unmanaged<RealtimeThread>.fromOpaque(arg!).takeRetainedValue()
            me.run()
            return nil
        }, unmanaged.toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        t.thread = tid
        t.started.wait()
        return t
    }

    /// What the thread got; valid once `start` returned.
    public var result: Achieved { achieved }

    /// Waits for the thread's body to return.
    public func join() {
        if let t = thread {
            pthread_join(t, nil)
            thread = nil
        }
    }

    private func run() {
        var a = Achieved()
        // Signals are for the signal watcher; a handler must never run on the control thread.
        _ = CLinuxRT_blockAsyncSignals()
        options.name.withCString { _ = pthread_setname_np(pthread_self(), $0) }
        if let cpu = options.cpu {
            let rc = CLinuxRT_pinCurrentThread(Int32(cpu))
            if rc == 0 { a.cpu = cpu } else { a.warnings.append("CPU affinity \(cpu) refused: \(String(cString: strerror(rc)))") }
            if rc == 0, options.reserveCPU {
                var moved: Int32 = 0
                let refused = CLinuxRT_moveOtherThreadsOffCPU(Int32(cpu), &moved)
                a.threadsMovedOff = Int(moved)
                if refused != 0 {
                    a.warnings.append("could not move every other thread off CPU \(cpu): \(String(cString: strerror(refused)))")
                }
            }
        }
        if options.lockMemory {
            if mlockall(MCL_CURRENT | MCL_FUTURE) == 0 {
                a.memoryLocked = true
            } else {
                let e = errno
                a.warnings.append("mlockall failed: \(String(cString: strerror(e))) (raise LimitMEMLOCK or grant CAP_IPC_LOCK)")
            }
        }
        // Before the scheduler change: kernels that zero a SCHED_FIFO thread's slack ignore
        // PR_SET_TIMERSLACK from it afterwards; if SCHED_FIFO is refused, the 1 ns stays.
        if CLinuxRT_setTimerSlack(1) != 0 { a.warnings.append("timer slack 1 ns refused") }
        if let priority = options.priority {
            var param = sched_param(sched_priority: priority)
            let rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param)
            if rc == 0 {
                a.scheduler = .fifo(priority: priority)
            } else {
                a.warnings.append("SCHED_FIFO priority \(priority) refused: \(String(cString: strerror(rc))); running SCHED_OTHER with 1 ns timer slack (raise LimitRTPRIO or grant CAP_SYS_NICE)")
            }
        }
        let slack = CLinuxRT_timerSlack()
        a.timerSlackNanoseconds = slack >= 0 ? slack : nil
        achieved = a
        started.signal()
        body(a)
    }
}

/// A counting semaphore over a pthread mutex and condition (start-up hand-shakes only).
final class Semaphore: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var count = 0

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    deinit {
        pthread_cond_destroy(&cond)
        pthread_mutex_destroy(&mutex)
    }

    func signal() {
        pthread_mutex_lock(&mutex)
        count += 1
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    func wait() {
        pthread_mutex_lock(&mutex)
        while count == 0 { pthread_cond_wait(&cond, &mutex) }
        count -= 1
        pthread_mutex_unlock(&mutex)
    }
}

extension RealtimeThread {
    /// Lowers the calling thread's priority to `nice` (0…19) for background work such as
    /// training. Returns whether the kernel accepted it.
    @discardableResult
    public static func setCurrentThreadNice(_ nice: Int32) -> Bool { CLinuxRT_setCurrentThreadNice(nice) == 0 }
}

extension RealtimeThread {
    /// The CPUs the calling thread may run on (its affinity mask), ascending.
    public static func currentThreadCPUs() -> [Int] {
        var set = cpu_set_t()
        guard pthread_getaffinity_np(pthread_self(), MemoryLayout<cpu_set_t>.size, &set) == 0 else { return [] }
        return (0 ..< Int(CPU_SETSIZE)).filter { CLinuxRT_cpuIsSet(Int32($0), &set) != 0 }
    }

    /// Restricts the calling thread (and threads it starts later) to `cpus`. Returns nil, or
    /// why the kernel refused.
    public static func setCurrentThreadCPUs(_ cpus: [Int]) -> String? {
        guard !cpus.isEmpty else { return "no CPU given" }
        var set = cpu_set_t()
        CLinuxRT_cpuZero(&set)
        for c in cpus {
            guard c >= 0, c < Int(CPU_SETSIZE) else { return "CPU \(c) is out of range" }
            CLinuxRT_cpuSet(Int32(c), &set)
        }
        let rc = pthread_setaffinity_np(pthread_self(), MemoryLayout<cpu_set_t>.size, &set)
        return rc == 0 ? nil : String(cString: strerror(rc))
    }
}
