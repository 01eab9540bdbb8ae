import ControlProtocol
import ControlRuntime

/// `telemetry.subscribe`, `telemetry.unsubscribe` and the samples the connection streams.
extension ControlService {
    func registerTelemetryMethods() {
        register(ControlMethod.telemetrySubscribe, role: .observer, sync: { (s, p, c) throws(RPCError) in try s.subscribe(p, c) })
        register(ControlMethod.telemetryUnsubscribe, role: .observer, sync: { (_, p, c) throws(RPCError) in
            try p.allowOnly([])
            c.subscriptionRate = nil
            c.onSubscriptionChange(c)
            return ["subscribed": false]
        })
    }

    var telemetryMaxHz: Int { min(info.rateHz, access.configuration.socket.telemetryMaxHz) }

    func subscribe(_ p: Params, _ c: Connection) throws(RPCError) -> JSONValue {
        let requested = try TelemetrySubscribeParams(p).rateHz
        // Clamp in Double first: Int(_:) traps on values beyond Int.max (1e19 killed the daemon).
        let rate = requested >= Double(telemetryMaxHz) ? telemetryMaxHz : Int(requested.rounded())
        if c.subscriptionRate == nil {
            c.subscriptionID = nextSubscription
            nextSubscription += 1
        }
        c.subscriptionRate = rate
        c.onSubscriptionChange(c)
        return TelemetrySubscribeResult(subscription: c.subscriptionID, rateHz: rate).json
    }

    /// The sample every subscriber of snapshot `t` receives (`subscription` and `dropped` are
    /// each connection's and left 0).
    func telemetrySample(from t: TelemetrySnapshot) -> TelemetrySample {
        let n = Int(t.dof)
        func vec(_ a: InlineArray<8, Double>) -> [Double] { (0 ..< n).map { a[$0] } }
        return TelemetrySample(
            subscription: 0, tick: Int(clamping: t.tick), loopTimeS: t.time, mode: "\(t.mode)",
            q: vec(t.position), v: vec(t.velocity), effort: vec(t.effort), command: vec(t.command),
            endEffector: [t.endEffectorPosition[0], t.endEffectorPosition[1], t.endEffectorPosition[2]], dropped: 0,
            disagreement: access.planner?.planDisagreement, modelVersion: access.planner?.modelVersion
        )
    }
}
