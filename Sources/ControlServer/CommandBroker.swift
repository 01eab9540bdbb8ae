import ControlProtocol
import ControlRuntime
import NIOCore

/// Sends commands to the control loop and matches its answers by id. Runs on one event loop:
/// that loop is the results ring's only consumer, polling it while answers are outstanding.
final class CommandBroker {
    private let access: LoopAccess
    private let eventLoop: EventLoop
    private var pending: [UInt64: (deadline: NIODeadline, promise: EventLoopPromise<LoopCommandResult>)] = [:]
    private var nextID: UInt64 = 1
    private var polling = false
    static let timeout = TimeAmount.seconds(1)

    init(access: LoopAccess, eventLoop: EventLoop) {
        self.access = access
        self.eventLoop = eventLoop
    }

    /// The loop's answer, or `busy` when the queue is full or no answer came within 1 s.
    func send(_ make: (UInt64) -> LoopCommand) -> EventLoopFuture<LoopCommandResult> {
        eventLoop.preconditionInEventLoop()
        let id = nextID
        nextID += 1
        guard access.send(make(id)) else {
            return eventLoop.makeFailedFuture(RPCError.busy("the control loop's command queue is full; retry", retryAfterMs: 10))
        }
        let promise = eventLoop.makePromise(of: LoopCommandResult.self)
        pending[id] = (.now() + Self.timeout, promise)
        if !polling {
            polling = true
            schedulePoll()
        }
        return promise.futureResult
    }

    private func schedulePoll() {
        eventLoop.assumeIsolated().scheduleTask(in: .microseconds(250)) { [self] in poll() }
    }

    private func poll() {
        while let r = access.nextResult() {
            if let p = pending.removeValue(forKey: r.id) { p.promise.succeed(r) }
        }
        let now = NIODeadline.now()
        for (id, p) in pending where p.deadline < now {
            pending[id] = nil
            p.promise.fail(RPCError.busy("the control loop did not answer within 1 s"))
        }
        if pending.isEmpty { polling = false } else { schedulePoll() }
    }
}
