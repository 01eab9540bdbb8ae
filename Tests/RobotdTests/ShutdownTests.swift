import Foundation
import Testing

/// SIGTERM while the learner trains (issue 12, defect 7): the arm is made safe first, and the
/// training round is cancelled rather than waited for.
@Suite(.serialized) struct ShutdownTests {
    /// A long training round (1 000 epochs of an 8-member 256-256 ensemble, far longer than the
    /// unit's TimeoutStopSec) is running when SIGTERM arrives: the log shows the arm held and the
    /// driver deactivated before the learner is stopped, the round is cancelled at its next
    /// mini-batch, and the daemon exits 0 on its own (the test's wait would kill a daemon that
    /// waited for the round, and fail on its status).
    @Test func sigtermDuringTrainingMakesTheArmSafeFirstAndCancelsTheRound() throws {
        let daemon = try SocketTestDaemon(sections: """
            mpc: {enabled: true}
            learning: {enabled: true, interval: 3600, min_new_samples: 1, members: 8, hidden: [256, 256], epochs: 1000, warm_start: false}
            """)
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        // Enough samples for a round (64 to train on, 16 held out): 500 Hz for a second.
        _ = DaemonProcessTests.waitFor(seconds: 20) { ((try? c.result("model.status"))?["samples"] as? Int ?? 0) >= 400 }
        _ = try c.result("model.train")
        let training = DaemonProcessTests.waitFor(seconds: 20) { (try? c.result("model.status"))?["training"] as? Bool == true }
        try #require(training, "no training round started: \(daemon.stderr)")
        c.close()

        daemon.process.signal(SIGTERM)
        let status = daemon.process.wait(timeout: 15)
        let log = daemon.stderr
        #expect(status == 0, "exit \(status):\n\(log)")
        func position(_ text: String) -> String.Index? { log.range(of: text)?.lowerBound }
        let safe = try #require(position("arm safe: held"), "no 'arm safe' line:\n\(log)")
        let cancelled = try #require(position("training round cancelled: the daemon is stopping"), "the round was not cancelled:\n\(log)")
        let learnerStopped = try #require(position("learner stopped"), "\(log)")
        #expect(safe < cancelled && cancelled < learnerStopped, "order: arm safe, round cancelled, learner stopped:\n\(log)")
        #expect(!log.contains("learned model published"), "the cancelled round must not publish")
    }
}
