import ControlPorts
import ControlProtocol
import ControlRuntime
import Platform
import RobotdConfig

/// `hello`, `status`, `timing`, `config.get`, `log.setLevel`: what the daemon is and does.
extension ControlService {
    func registerStatusMethods() {
        register(ControlMethod.hello, role: .none, sync: { (s, p, c) throws(RPCError) in try p.allowOnly([]); return s.hello(c).json })
        register(ControlMethod.status, role: .observer, sync: { (s, p, _) throws(RPCError) in try p.allowOnly([]); return s.status().json })
        register(ControlMethod.timing, role: .observer, sync: { (s, p, _) throws(RPCError) in try p.allowOnly([]); return s.timing().json })
        register(ControlMethod.configGet, role: .observer, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            var o = ConfigJSON.encode(s.access.configuration)
            if case var .object(d) = o { d["config_file"] = .string(s.access.configPath); o = .object(d) }
            return o
        })
        register(ControlMethod.logSetLevel, role: .operator, sync: { (s, p, _) throws(RPCError) in
            let name = try LogSetLevelParams(p).level
            guard let previous = s.logLevel.set(name) else {
                throw .invalidParams("\"level\" must be one of \(LogLevelControl.names.joined(separator: ", ")), got \"\(name)\"")
            }
            return LogSetLevelResult(level: name, previous: previous).json
        })
    }

    func hello(_ c: Connection) -> HelloResult {
        HelloResult(version: info.version, robot: info.robot, dof: info.jointNames.count, jointNames: info.jointNames, rateHz: info.rateHz,
                    driver: info.driver, modes: info.modes.map(\.description), role: "\(c.role)", uid: Int(c.uid), methods: methodNames,
                    telemetryMaxHz: telemetryMaxHz)
    }

    func status() -> StatusResult {
        let t = access.telemetry()
        let n = Int(t.dof)
        func vec(_ a: InlineArray<8, Double>) -> [Double] { (0 ..< n).map { a[$0] } }
        let r = t.endEffectorRotation
        let faults = access.faults.all.map { f in
            StatusResult.Fault(reason: f.reason, tick: Int(clamping: f.tick), loopTimeS: f.loopTime, flightRecorder: f.flightRecorder)
        }
        let fallback = access.faults.lastFallback
        let policy = access.policies?.installed
        let bus = access.bus?()
        // A driver fault names the servo and why when the driver knows (status `bus.last_fault`).
        var fault: String? = t.mode == .faulted && t.hasFault ? "\(t.fault)" : nil
        if let f = fault, let detail = bus?.lastFault, [.driverRead, .driverWrite, .driverActivation, .actuatorFault].contains(t.fault) {
            fault = "\(f): \(detail)"
        }
        return StatusResult(
            mode: "\(t.mode)", fault: fault, rateHz: info.rateHz,
            tickCount: Int(clamping: t.tick), overruns: Int(clamping: t.overruns), stalls: Int(clamping: t.stalls), stalledS: t.stalledTime,
            staleStates: Int(clamping: t.staleStates), uptimeS: MonotonicClock.seconds() - access.startedAt, loopTimeS: t.time,
            joints: .init(names: Array(info.jointNames.prefix(n)), q: vec(t.position), v: vec(t.velocity), effort: vec(t.effort),
                          command: vec(t.command)),
            endEffector: .init(frame: info.endEffectorFrame, position: [t.endEffectorPosition[0], t.endEffectorPosition[1], t.endEffectorPosition[2]],
                               rotation: (0 ..< 3).map { i in (0 ..< 3).map { j in r[3 * i + j] } }),
            faults: faults, lastFallback: fallback, mpc: access.planner?.status(loopTime: t.time),
            policy: policy?.name, policyVersion: policy.map { Int($0.version) }, bus: bus,
            recording: access.recording?.status(), teleop: teleopStatus())
    }

    func timing() -> TimingResult {
        let s = access.statistics()
        func us(_ h: LatencyHistogram) -> TimingResult.Latency {
            func us(_ x: UInt64) -> Double { Double(x) / 1000 }
            return .init(p50: us(h.value(atQuantile: 0.5)), p90: us(h.value(atQuantile: 0.9)), p99: us(h.value(atQuantile: 0.99)),
                         p99_9: us(h.value(atQuantile: 0.999)), max: us(h.total == 0 ? 0 : h.max), mean: h.mean / 1000)
        }
        let a = access.achieved
        var priority: Int?
        if case let .fifo(p) = a.scheduler { priority = Int(p) }
        return TimingResult(
            ticks: Int(clamping: s.ticks), overruns: Int(clamping: s.overruns), worstOverrunStreak: Int(clamping: s.worstOverrunStreak),
            wakeLatencyUs: us(s.wakeLatency), computeUs: us(s.computeTime), computeCPUUs: us(s.computeCPUTime),
            preemptedTicks: Int(clamping: s.preemptedTicks), allocations: Int(clamping: s.allocations),
            scheduler: a.schedulerName, rtPriority: priority, memoryLocked: a.memoryLocked, cpu: a.cpu,
            mpc: access.planner?.status(loopTime: access.telemetry().time), bus: access.bus?(), lateTicks: Int(clamping: s.lateTicks),
            earlyWakeUs: access.configuration.loop.earlyWake * 1e6)
    }
}
