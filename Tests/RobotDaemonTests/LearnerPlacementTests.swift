import Logging
import Platform
import RobotDaemon
import RobotdConfig
import Testing

@Suite struct LearnerPlacementTests {
    @Test func theLearnerAvoidsTheControlThreadsCPU() {
        #expect(LearnerService.learnerCPUs(configured: nil, loopCPU: 1, allowed: [0, 1]) == [0])
        #expect(LearnerService.learnerCPUs(configured: nil, loopCPU: 2, allowed: [0, 1, 2, 3]) == [0, 1, 3])
        #expect(LearnerService.learnerCPUs(configured: 3, loopCPU: 2, allowed: [0, 1, 2, 3]) == [3])
        // A configured CPU equal to the loop's is not taken (the loop's may be set after the file).
        #expect(LearnerService.learnerCPUs(configured: 1, loopCPU: 1, allowed: [0, 1]) == [0])
        // Nothing to avoid, or nowhere else to go: the mask stays as it is.
        #expect(LearnerService.learnerCPUs(configured: nil, loopCPU: nil, allowed: [0, 1]) == nil)
        #expect(LearnerService.learnerCPUs(configured: nil, loopCPU: 0, allowed: [0]) == nil)
    }

    /// The learner thread of a daemon whose loop is pinned to the last CPU runs on the others
    /// (read back from the kernel's affinity mask of the thread itself).
    @Test func theLearnerThreadIsPinnedAwayFromTheLoop() throws {
        let allowed = RealtimeThread.currentThreadCPUs()
        try #require(allowed.count >= 2, "needs two CPUs")
        var config = try ConfigLoader.load(path: Fixtures.repoRoot.appendingPathComponent("configs/sim.yaml").path)
        config.learning.enabled = true
        config.loop.cpuAffinity = allowed.last!
        let learner = try #require(try DaemonAssembly.parts(config, logger: Logger(label: "test")).learner)
        learner.start()
        defer { learner.stop() }
        #expect(waitUntil(seconds: 5) { !learner.status.cpus.isEmpty })
        #expect(learner.status.cpus == Array(allowed.dropLast()), "\(learner.status)")
        #expect(learner.status.cpuWarning == nil)
    }
}
