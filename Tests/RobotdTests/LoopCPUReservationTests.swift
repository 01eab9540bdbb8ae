import Foundation
import Glibc
import Testing

/// `loop.cpu_affinity: auto` on a real `robotd run`: the control thread alone on the highest CPU
/// of the daemon's mask, every other thread of the daemon (the server's event loop, the planner,
/// file threads, the signal watcher, OpenBLAS's) off it — read back from the kernel in
/// `/proc/<pid>/task/*/status`. On one CPU, `auto` leaves the loop unpinned.
@Suite struct LoopCPUReservationTests {
    /// "0-2,5" → [0, 1, 2, 5].
    static func cpuList(_ text: String) -> Set<Int> {
        var cpus = Set<Int>()
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            if bounds.count == 2 { cpus.formUnion(bounds[0] ... bounds[1]) } else if let c = bounds.first { cpus.insert(c) }
        }
        return cpus
    }

    /// Every thread of `pid`: its name and allowed CPUs.
    static func threads(of pid: Int32) -> [(name: String, cpus: Set<Int>)] {
        let dir = "/proc/\(pid)/task"
        let tids = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return tids.compactMap { tid in
            guard let name = try? String(contentsOfFile: "\(dir)/\(tid)/comm", encoding: .utf8),
                  let status = try? String(contentsOfFile: "\(dir)/\(tid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
            return (name.trimmingCharacters(in: .whitespacesAndNewlines), cpuList(String(line.dropFirst("Cpus_allowed_list:".count))))
        }
    }

    /// The calling thread's CPUs: a child process inherits the mask of the thread that spawns it.
    static func myCPUs() -> Set<Int> {
        let status = (try? String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
        return line.map { cpuList(String($0.dropFirst("Cpus_allowed_list:".count))) } ?? []
    }

    @Test func autoGivesTheLoopTheLastCPUAndMovesEveryOtherThreadOffIt() throws {
        let mine = Self.myCPUs()
        let dir = try DaemonProcessTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try DaemonProcessTests.writeConfig(extra: "learning: {enabled: true, interval: 1}",
                                                        loop: "cpu_affinity: auto, early_wake: 0.0001", in: dir)
        let daemon = try DaemonProcess(arguments: ["run", "--config", config])
        defer { daemon.signal(SIGTERM); _ = daemon.wait() }
        let pid = daemon.process.processIdentifier
        // The server's socket is bound after the control thread started.
        #expect(DaemonProcessTests.waitFor(seconds: 30) { FileManager.default.fileExists(atPath: dir + "/robotd.sock") }, "\(daemon.stderr)")
        var threads: [(name: String, cpus: Set<Int>)] = []
        #expect(DaemonProcessTests.waitFor(seconds: 10) {
            threads = Self.threads(of: pid)
            return threads.contains { $0.name == "robotd-control" }
        }, "\(daemon.stderr)")
        let control = try #require(threads.first { $0.name == "robotd-control" })
        if mine.count >= 2, let last = mine.max() {
            #expect(control.cpus == [last], "the control thread may run on \(control.cpus); the daemon was given \(mine)")
            for t in threads where t.name != "robotd-control" {
                #expect(!t.cpus.contains(last) && !t.cpus.isEmpty, "\(t.name) may run on \(t.cpus), the loop's CPU \(last) among them")
            }
            #expect(threads.count >= 4, "\(threads.map(\.name))")
            #expect(daemon.stderr.contains("cpu=\(last)") && daemon.stderr.contains("threads_moved_off_cpu="), "\(daemon.stderr)")
        } else {
            // One CPU: auto pins nothing and moves nothing.
            #expect(control.cpus == mine)
            #expect(daemon.stderr.contains("cpu=any"), "\(daemon.stderr)")
        }
        // The loop ticks with its early wake, and the learner (kept off the loop's CPU) runs.
        let status = try RobotctlDaemonTests.robotctl(["status", "--json"], socket: dir + "/robotd.sock")
        #expect(status.status == 0, "\(status.stderr)")
        let s = try #require(try TestSupport.json(status.stdout) as? [String: Any])
        #expect(s["mode"] as? String == "hold", "\(s)")
        let timing = try RobotctlDaemonTests.robotctl(["timing", "--json"], socket: dir + "/robotd.sock")
        let t = try #require(try TestSupport.json(timing.stdout) as? [String: Any], "\(timing.stderr)")
        #expect((t["early_wake_us"] as? NSNumber)?.doubleValue == 100, "\(t)")
        if mine.count >= 2 { #expect(t["cpu"] as? Int == mine.max(), "\(t)") }
    }

    /// One CPU in the mask (the daemon started under `taskset`): `auto` is "unpinned", said so.
    @Test func onOneCPUAutoLeavesTheLoopUnpinned() throws {
        guard let first = Self.myCPUs().min(), FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset") else { return }
        let config = TestSupport.repoRoot.appendingPathComponent("configs/sim.yaml").path
        let r = try TestSupport.run("/usr/bin/taskset", ["-c", "\(first)", TestSupport.robotdPath, "check-config", config])
        #expect(r.status == 0 && r.stdout.contains("unpinned (auto: one CPU)"), "\(r.stdout) \(r.stderr)")
        let all = try TestSupport.run(TestSupport.robotdPath, ["check-config", config])
        if Self.myCPUs().count >= 2, let last = Self.myCPUs().max() {
            #expect(all.stdout.contains("cpu \(last) (auto)"), "\(all.stdout)")
        }
    }
}
