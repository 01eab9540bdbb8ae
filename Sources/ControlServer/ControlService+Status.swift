import ControlPorts
import ControlProtocol
import ControlRuntime
import Platform
import RobotdConfig

/// `hello`, `status`, `timing`, `config.get`, `log.setLevel`: what the daemon is and does.
extension ControlService {
    func registerStatusMethods() {
        register(ControlMethod.hello, role: .none, sync: { (s, p, c) throws(RPCError) in try p.allowOnly([]); return s.hello(c) })
        register(ControlMethod.status, role: .observer, sync: { (s, p, _) throws(RPCError) in try p.allowOnly([]); return s.status() })
        register(ControlMethod.timing, role: .observer, sync: { (s, p, _) throws(RPCError) in try p.allowOnly([]); return s.timing() })
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
            return ["level": .string(name), "previous": .string(previous)]
        })
    }

    func hello(_ c: Connection) -> JSONValue {
        [
            "protocol": 1, "daemon": "robotd", "version": .string(info.version), "robot": .string(info.robot),
            "dof": JSONValue(info.jointNames.count), "joint_names": JSONValue(info.jointNames),
            "rate_hz": JSONValue(info.rateHz), "driver": .string(info.driver),
            "modes": JSONValue(info.modes.map(\.description)), "role": .string("\(c.role)"),
            "uid": JSONValue(c.uid), "methods": JSONValue(methodNames),
            "telemetry_max_hz": JSONValue(telemetryMaxHz),
        ]
    }

    func status() -> JSONValue {
        let t = access.telemetry()
        let n = Int(t.dof)
        func vec(_ a: InlineArray<8, Double>) -> JSONValue { .array((0 ..< n).map { .number(a[$0]) }) }
        let r = t.endEffectorRotation
        let faults: [JSONValue] = access.faults.all.map { f in
            ["reason": .string(f.reason), "tick": JSONValue(f.tick), "loop_time_s": .number(f.loopTime),
             "flight_recorder": f.flightRecorder.map { .string($0) } ?? .null]
        }
        return [
            "mode": .string("\(t.mode)"),
            "fault": t.mode == .faulted && t.hasFault ? .string("\(t.fault)") : .null,
            "rate_hz": JSONValue(info.rateHz),
            "tick_count": JSONValue(t.tick),
            "overruns": JSONValue(t.overruns),
            "stalls": JSONValue(t.stalls), "stalled_s": .number(t.stalledTime),
            "uptime_s": .number(MonotonicClock.seconds() - access.startedAt),
            "loop_time_s": .number(t.time),
            "joints": [
                "names": JSONValue(Array(info.jointNames.prefix(n))), "q": vec(t.position), "v": vec(t.velocity),
                "effort": vec(t.effort), "command": vec(t.command),
            ],
            "end_effector": [
                "frame": .string(info.endEffectorFrame),
                "position": [.number(t.endEffectorPosition[0]), .number(t.endEffectorPosition[1]), .number(t.endEffectorPosition[2])],
                "rotation": .array((0 ..< 3).map { i in .array((0 ..< 3).map { j in .number(r[3 * i + j]) }) }),
            ],
            "faults": .array(faults),
            "last_fallback": access.faults.lastFallback.map { f in
                ["from": .string(f.from), "reason": .string(f.reason), "loop_time_s": .number(f.loopTime), "count": JSONValue(f.count)]
            } ?? .null,
            "mpc": access.planner?.status(loopTime: t.time).json ?? .null,
            "policy": access.policies.map { p in p.installedName.map { .string($0) } ?? .null } ?? .null,
        ]
    }

    func timing() -> JSONValue {
        let s = access.statistics()
        func q(_ h: LatencyHistogram) -> JSONValue {
            func us(_ x: UInt64) -> JSONValue { .number(Double(x) / 1000) }
            return ["p50": us(h.value(atQuantile: 0.5)), "p90": us(h.value(atQuantile: 0.9)), "p99": us(h.value(atQuantile: 0.99)),
                    "p99_9": us(h.value(atQuantile: 0.999)), "max": us(h.total == 0 ? 0 : h.max), "mean": .number(h.mean / 1000)]
        }
        let a = access.achieved
        var priority: JSONValue = .null
        if case let .fifo(p) = a.scheduler { priority = JSONValue(p) }
        return [
            "ticks": JSONValue(s.ticks), "overruns": JSONValue(s.overruns), "worst_overrun_streak": JSONValue(s.worstOverrunStreak),
            "wake_latency_us": q(s.wakeLatency), "compute_us": q(s.computeTime), "compute_cpu_us": q(s.computeCPUTime),
            "preempted_ticks": JSONValue(s.preemptedTicks), "allocations": JSONValue(s.allocations),
            "scheduler": .string(a.schedulerName), "rt_priority": priority, "memory_locked": .bool(a.memoryLocked),
            "cpu": a.cpu.map { JSONValue($0) } ?? .null,
            "mpc": access.planner?.status(loopTime: access.telemetry().time).json ?? .null,
        ]
    }
}
