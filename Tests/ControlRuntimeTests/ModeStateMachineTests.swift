import ControlRuntime
import Testing

/// The mode logic driven event by event (docs/architecture.md §3).
@Suite struct ModeStateMachineTests {
    @Test func idleToHoldPowersUpAndHoldsTheMeasuredPose() {
        var sm = ModeStateMachine()
        #expect(sm.on(.request(.hold)) == [.enableActuators, .holdMeasured])
        #expect(sm.mode == .hold)
        #expect(sm.on(.request(.hold)) == [])
        #expect(sm.on(.request(.idle)) == .disableActuators)
        #expect(sm.mode == .idle)
    }

    @Test func moveStartsFromMeasuredStateAndEndsInHoldAtTheGoal() {
        var sm = ModeStateMachine()
        #expect(sm.on(.move) == [.enableActuators, .startMove])
        #expect(sm.mode == .move)
        #expect(sm.on(.move) == .startMove, "a new target re-plans from the measured state")
        #expect(sm.on(.moveFinished) == .holdGoal)
        #expect(sm.mode == .hold)
        #expect(sm.on(.moveFinished) == [])
        _ = sm.on(.move)
        #expect(sm.on(.request(.hold)) == .holdMeasured, "hold during a move stops where the arm is")
    }

    /// A servo arm with `safe_state: torque_off`: a limit fault cuts torque like a driver fault,
    /// an estop then leaves it unpowered, and reset re-powers from the measured pose (the driver's
    /// activation sets goal := present first).
    @Test func servoSafeStateTurnsEveryFaultIntoTorqueOff() {
        var sm = ModeStateMachine()
        sm.faultsDisableActuators = true
        _ = sm.on(.request(.hold))
        #expect(sm.on(.fault(.positionLimit)) == [.disableActuators, .dumpFlightRecorder])
        #expect(sm.on(.estop) == [], "an unpowered arm stays unpowered on estop")
        #expect(sm.on(.reset) == [.enableActuators, .holdMeasured])
        _ = sm.on(.request(.hold))
        #expect(sm.on(.fault(.actuatorFault)) == [.disableActuators, .dumpFlightRecorder])
        #expect(sm.on(.reset) == [.reactivateDriver, .enableActuators, .holdMeasured], "an actuator fault re-arms the driver")
        var torqueArm = ModeStateMachine()
        _ = torqueArm.on(.request(.hold))
        #expect(torqueArm.on(.fault(.positionLimit)) == [.holdMeasured, .dumpFlightRecorder], "a torque arm holds by default")
    }

    @Test func estopLatchesUntilReset() {
        var sm = ModeStateMachine()
        _ = sm.on(.request(.hold))
        #expect(sm.on(.estop) == .holdMeasured)
        #expect(sm.mode == .estop)
        for event: ModeEvent in [.request(.hold), .request(.idle), .move, .moveFinished] {
            #expect(sm.on(event) == .rejected)
            #expect(sm.mode == .estop)
        }
        #expect(sm.on(.fault(.deadlineMisses)) == .rejected)
        #expect(sm.on(.reset) == [.enableActuators, .holdMeasured])
        #expect(sm.mode == .hold)
    }

    @Test func estopFromIdleKeepsTheArmUnpowered() {
        var sm = ModeStateMachine()
        #expect(sm.on(.request(.estop)) == [])
        #expect(sm.mode == .estop)
    }

    @Test func faultsStopTheArmAndWaitForReset() {
        var sm = ModeStateMachine()
        _ = sm.on(.move)
        #expect(sm.on(.fault(.nonFiniteCommand)) == [.holdMeasured, .dumpFlightRecorder])
        #expect(sm.mode == .faulted && sm.lastFault == .nonFiniteCommand)
        #expect(sm.on(.fault(.deadlineMisses)) == [], "a second fault changes nothing")
        #expect(sm.lastFault == .nonFiniteCommand, "the first cause is kept")
        #expect(sm.on(.request(.hold)) == .rejected)
        #expect(sm.on(.move) == .rejected)
        #expect(sm.on(.reset) == [.enableActuators, .holdMeasured])
        #expect(sm.mode == .hold && sm.lastFault == nil)
    }

    @Test func driverFaultsCutTheActuatorsAndReactivateOnReset() {
        var sm = ModeStateMachine()
        _ = sm.on(.request(.hold))
        #expect(sm.on(.fault(.driverWrite)) == [.disableActuators, .dumpFlightRecorder])
        #expect(sm.on(.estop) == [], "already unpowered")
        #expect(sm.on(.reset) == [.enableActuators, .holdMeasured])
        var sm2 = ModeStateMachine()
        _ = sm2.on(.request(.hold))
        _ = sm2.on(.fault(.driverRead))
        #expect(sm2.on(.reset) == [.reactivateDriver, .enableActuators, .holdMeasured])
    }

    @Test func unavailableModesAreRejected() {
        var sm = ModeStateMachine()
        for m in [Mode.mpc, .policy, .teleop, .faulted, .move] {
            #expect(sm.on(.request(m)) == .rejected)
            #expect(sm.mode == .idle)
        }
        sm.availableModes.insert(.mpc)
        #expect(sm.on(.request(.mpc)) == [.enableActuators, .holdMeasured])
        #expect(sm.mode == .mpc)
    }

    @Test func resetOutsideFaultsIsANoOp() {
        var sm = ModeStateMachine()
        #expect(sm.on(.reset) == [])
        #expect(sm.mode == .idle)
    }

    @Test func modeNamesRoundTrip() {
        for m in Mode.allCases { #expect(Mode(name: m.description) == m) }
        #expect(Mode(name: "bogus") == nil)
    }
}
