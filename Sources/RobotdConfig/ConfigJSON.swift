import ControlProtocol

/// The effective configuration as JSON, keyed as in the YAML file (configs/README.md), for
/// `config.get` and the provenance of saved models. Lives with the configuration (not the
/// server) so the learner can describe its settings without linking the socket.
public enum ConfigJSON {
    public static func encode(_ c: DaemonConfiguration) -> JSONValue {
        func values(_ v: JointValues) -> JSONValue {
            switch v {
            case let .uniform(x): .number(x)
            case let .perJoint(xs): JSONValue(xs)
            }
        }
        func optional(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        func optional(_ x: Double?) -> JSONValue { x.map { .number($0) } ?? .null }
        func busJSON(_ bus: DaemonConfiguration.SerialBus) -> JSONValue {
            [
                "port": .string(bus.port), "baud": JSONValue(bus.baud), "ids": .array(bus.ids.map { JSONValue($0) }),
                "bus_rate_hz": .number(bus.busRateHz), "position_mode": .string(bus.positionMode.rawValue),
                "profile_velocity": optional(bus.profileVelocity), "profile_acceleration": optional(bus.profileAcceleration),
                "position_p": bus.positionP.map(values) ?? .null, "position_d": bus.positionD.map(values) ?? .null,
                "torque_limit": bus.torqueLimit.map(values) ?? .null, "max_goal_step": .number(bus.maxGoalStep),
                "feedforward_stiffness": bus.feedforwardStiffness.map(values) ?? .null,
                "soft_limit_margin": .number(bus.softLimitMargin), "failed_cycles_to_fault": JSONValue(bus.failedCyclesToFault),
                "retries": JSONValue(bus.retries), "safe_state": .string(bus.safeState.rawValue),
                "diagnostics_hz": .number(bus.diagnosticsHz), "calibration": optional(bus.calibration), "arm_id": optional(bus.armID),
            ]
        }

        var driver: [String: JSONValue] = ["kind": .string(c.driver.kind.rawValue)]
        switch c.driver {
        case let .simulation(s):
            driver["simulation"] = [
                "substeps": JSONValue(s.substeps), "integrator": .string(s.integrator.rawValue), "seed": JSONValue(s.seed),
                "position_noise": .number(s.positionNoise), "velocity_noise": .number(s.velocityNoise),
                "payload_mass": .number(s.payloadMass), "payload_frame": optional(s.payloadFrame),
                "payload_offset": JSONValue(s.payloadOffset), "extra_friction": values(s.extraFriction),
                "extra_damping": values(s.extraDamping), "initial_position": s.initialPosition.map { JSONValue($0) } ?? .null,
                "command_mode": .string(s.commandMode.rawValue),
                "servo": [
                    "kp": s.servo.kp.map(values) ?? .null, "kd": s.servo.kd.map(values) ?? .null,
                    "torque_limit": s.servo.torqueLimit.map(values) ?? .null,
                ],
            ]
        case let .dynamixel(bus), let .feetech(bus):
            driver[c.driver.kind.rawValue] = busJSON(bus)
        }
        var teleop: [String: JSONValue] = [
            "source": .string(c.teleop.source.rawValue), "timeout": .number(c.teleop.timeout),
            "max_velocity": .number(c.teleop.maxVelocity), "max_acceleration": .number(c.teleop.maxAcceleration),
        ]
        if let leader = c.teleop.leader {
            teleop["leader"] = [
                "kind": .string(leader.kind.rawValue), leader.kind.rawValue: busJSON(leader.bus),
                "range_mapped": .array(leader.rangeMapped.map { .string($0) }), "takeover_threshold": .number(leader.takeoverThreshold),
            ]
        }
        let w = c.mpc.weights, l = c.learning
        var joints: [String: JSONValue] = [:]
        for (name, o) in c.limits.joints {
            joints[name] = ["lower": optional(o.lower), "upper": optional(o.upper), "velocity": optional(o.velocity), "effort": optional(o.effort)]
        }
        return [
            "robot": ["urdf": .string(c.robot.urdf), "name": optional(c.robot.name)],
            "driver": .object(driver),
            "loop": [
                "rate_hz": JSONValue(c.loop.rateHz), "rt_priority": JSONValue(c.loop.rtPriority),
                "cpu_affinity": c.loop.cpuAffinity.map { JSONValue($0) } ?? .null, "lock_memory": .bool(c.loop.lockMemory),
                "overrun_fault_threshold": JSONValue(c.loop.overrunFaultThreshold), "catch_up": .string(c.loop.catchUp.rawValue),
                "flight_recorder_seconds": .number(c.loop.flightRecorderSeconds), "max_stall": .number(c.loop.maxStall),
                "max_state_age": .number(c.loop.maxStateAge), "stale_state_fault_ticks": JSONValue(c.loop.staleStateFaultTicks),
                "early_wake": .number(c.loop.earlyWake),
            ],
            "control": [
                "hold": ["kp": values(c.control.hold.kp), "kd": values(c.control.hold.kd)],
                "move": ["kp": values(c.control.move.kp), "kd": values(c.control.move.kd)],
                "gravity_compensation": .bool(c.control.gravityCompensation),
                "max_move_velocity": .number(c.control.maxMoveVelocity),
            ],
            "limits": [
                "velocity_scale": .number(c.limits.velocityScale), "effort_scale": .number(c.limits.effortScale),
                "slew_rate": .number(c.limits.slewRate), "velocity_fault_margin": .number(c.limits.velocityFaultMargin), "joints": .object(joints),
            ],
            "mpc": [
                "enabled": .bool(c.mpc.enabled), "rate_hz": JSONValue(c.mpc.rateHz), "horizon": JSONValue(c.mpc.horizon),
                "dt": .number(c.mpc.dt), "iterations": JSONValue(c.mpc.iterations), "budget": .number(c.mpc.budget),
                "plan_validity": .number(c.mpc.planValidity), "frame": optional(c.mpc.frame),
                "weights": [
                    "running_frame": .number(w.runningFrame), "running_state": .number(w.runningState),
                    "running_control": .number(w.runningControl), "terminal_frame": .number(w.terminalFrame),
                    "running_orientation": .number(w.runningOrientation), "terminal_orientation": .number(w.terminalOrientation),
                    "terminal_velocity": .number(w.terminalVelocity), "running_joint": .number(w.runningJoint),
                    "terminal_joint": .number(w.terminalJoint), "path_frame": .number(w.pathFrame),
                    "joint_limit_barrier": .number(w.jointLimitBarrier),
                ],
            ],
            "learning": [
                "enabled": .bool(l.enabled), "interval": .number(l.interval), "min_new_samples": JSONValue(l.minNewSamples),
                "replay_capacity": JSONValue(l.replayCapacity), "members": JSONValue(l.members),
                "hidden": .array(l.hidden.map { JSONValue($0) }), "epochs": JSONValue(l.epochs),
                "validation_fraction": .number(l.validationFraction), "max_disagreement": .number(l.maxDisagreement),
                "soft_disagreement": .number(l.softDisagreement), "disagreement_weight": .number(l.disagreementWeight),
                "disagreement_quantile": .number(l.disagreementQuantile), "disagreement_factor": .number(l.disagreementFactor),
                "soft_disagreement_fraction": .number(l.softDisagreementFraction), "residual_bound_factor": .number(l.residualBoundFactor),
                "cpu_affinity": l.cpuAffinity.map { JSONValue($0) } ?? .null, "warm_start": .bool(l.warmStart),
                "warm_start_epochs": JSONValue(l.warmStartEpochs), "input_noise": .number(l.inputNoise),
                "control_input": .bool(l.controlInput), "derivatives": .string(l.derivatives.rawValue),
            ],
            "policy": ["max_inference_fraction": .number(c.policy.maxInferenceFraction)],
            "teleop": .object(teleop),
            "socket": [
                "path": optional(c.socket.path), "group": optional(c.socket.group),
                "mode": .string("0" + String(c.socket.mode, radix: 8)),
                "observers": JSONValue(c.socket.observers), "operators": JSONValue(c.socket.operators),
                "max_connections": JSONValue(c.socket.maxConnections),
                "max_connections_per_uid": JSONValue(c.socket.maxConnectionsPerUID),
                "operator_reserved_connections": JSONValue(c.socket.operatorReservedConnections),
                "idle_timeout": .number(c.socket.idleTimeout),
                "max_requests_per_second": JSONValue(c.socket.maxRequestsPerSecond),
                "telemetry_max_hz": JSONValue(c.socket.telemetryMaxHz),
            ],
            "data_directory": .string(c.dataDirectory),
            "logging": ["level": .string(c.logging.level.rawValue), "target": .string(c.logging.target.rawValue)],
        ]
    }
}
