import Foundation
import BuildInfo
import Testing

/// `robotd bench ilqr` against Crocoddyl's FDDP (Tests/oracles/crocoddyl_reach.py) on the same
/// problem: the same dynamics (ABA with armature, semi-implicit Euler), the same cost, so both
/// must reach the same optimal cost.
@Suite struct ILQRCrocoddylTests {
    static func ours(_ problem: String, _ extra: [String]) throws -> [String: Any] {
        // The oracle runs separately below (`crocoddyl`), so the bench's own anchor is off.
        let arguments = ["bench", "ilqr", "--problem", problem, "--repeat", "1", "--rounds", "1", "--no-anchor", "--json"]
        let r = try TestSupport.run(TestSupport.robotdPath, arguments + extra)
        try #require(r.status == 0, "\(r.stderr)")
        return try #require(try TestSupport.json(r.stdout) as? [String: Any])
    }

    static func crocoddyl(_ problem: String, _ extra: [String]) throws -> [String: Any] {
        let r = try TestSupport.python("Tests/oracles/crocoddyl_reach.py", [problem, "--repeat", "1"] + extra)
        try #require(r.status == 0, "crocoddyl oracle failed (run scripts/setup.sh --test): \(r.stderr)")
        return try #require(try TestSupport.json(r.stdout) as? [String: Any])
    }

    @Test(arguments: [("zero", 50), ("x0_gravity", 50), ("zero", 100), ("x0_gravity", 100)])
    func reachesCrocoddylsOptimalCost(initialGuess: String, horizon: Int) throws {
        let source = TestSupport.repoRoot.appendingPathComponent("hardware/robots/sim6/reach.json")
        var problem = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any])
        problem["init"] = initialGuess
        problem["horizon"] = horizon
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reach-\(getpid())-\(initialGuess)-\(horizon).json").path
        try JSONSerialization.data(withJSONObject: problem).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let a = try Self.ours(path, []), b = try Self.crocoddyl(path, [])
        let ca = try #require(a["final_cost"] as? Double), cb = try #require(b["final_cost"] as? Double)
        #expect(a["converged"] as? Bool == true, "\(a)")
        #expect(abs(ca - cb) <= 1e-6 * cb, "iLQR \(ca) vs Crocoddyl \(cb)")
        #expect((a["ee_error_m"] as? Double ?? 1) < 1e-4)
        // From the same start the two take the same path: the same number of iterations, ±1.
        let ia = try #require(a["iterations"] as? Int), ib = try #require(b["iterations_run"] as? Int)
        #expect(abs(ia - ib) <= 1, "iLQR \(ia) iterations vs Crocoddyl \(ib)")
    }

    /// `bench ilqr --all`: the four cases with Crocoddyl run side by side by the benchmark itself
    /// (Benchmarks/anchors/crocoddyl_reach.py), each with its time ratio and the verdict that both
    /// reached the same optimum in as many iterations.
    @Test func benchRunsCrocoddylSideBySideOnAllFourCases() throws {
        let problem = TestSupport.repoRoot.appendingPathComponent("hardware/robots/sim6/reach.json").path
        let r = try TestSupport.run(TestSupport.robotdPath,
                                    ["bench", "ilqr", "--problem", problem, "--all", "--repeat", "2", "--rounds", "2", "--json"])
        try #require(r.status == 0, "\(r.stderr)")
        let json = try #require(try TestSupport.json(r.stdout) as? [String: Any])
        let cases = try #require(json["cases"] as? [[String: Any]])
        #expect(cases.map { "T\($0["horizon"] as? Int ?? 0)_\($0["init"] as? String ?? "")" }
                == ["T50_zero", "T50_x0_gravity", "T100_zero", "T100_x0_gravity"])
        for c in cases {
            let anchor = try #require(c["anchor"] as? [String: Any])
            try #require(anchor["available"] as? Bool == true, "crocoddyl anchor (run scripts/setup.sh --test): \(anchor)")
            #expect(anchor["repeat"] as? Int == 4, "two rounds of two solves: \(anchor)")
            let ratio = try #require(c["time_ratio_to_anchor"] as? [String: Any])
            #expect((ratio["median"] as? Double ?? 0) > 0 && (ratio["rounds"] as? [Double])?.count == 2, "\(ratio)")
            #expect(c["same_optimum_as_anchor"] as? Bool == true, "\(c["cost_relative_difference_to_anchor"] ?? "")")
            #expect(c["same_iterations_as_anchor"] as? Bool == true, "\(c["iterations"] ?? "") vs \(anchor["iterations_run"] ?? "")")
        }
        let ratios = try #require(json["time_ratio_to_anchor"] as? [String: Double])
        #expect(Set(ratios.keys) == ["T50_zero", "T50_x0_gravity", "T100_zero", "T100_x0_gravity"])
        #expect(json["same_optimum_as_anchor"] as? Bool == true && json["same_iterations_as_anchor"] as? Bool == true)
    }
}

/// `robotd bench policy`: the JSON report and its allocation proof.
@Suite struct PolicyBenchCLITests {
    @Test func reportsLatencyAndZeroAllocations() throws {
        let r = try TestSupport.run(TestSupport.robotdPath, ["bench", "policy", "--calls", "2000", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try TestSupport.json(r.stdout) as? [String: Any])
        #expect(json["widths"] as? [Int] == [12, 256, 256, 6])
        #expect(json["parameters"] as? Int == 12 * 256 + 256 + 256 * 256 + 256 + 256 * 6 + 6)
        let q = try #require(json["forward_us"] as? [String: Double])
        #expect(q["p50"]! > 0 && q["p50"]! <= q["p99"]! && q["p99"]! <= q["max"]!)
        #expect(json["allocation_counter_verified"] as? Bool == true)
        if BuildConfiguration.isOptimized { #expect(json["allocations_per_call"] as? Double == 0) }
    }
}

/// `robotd bench train`: the JSON report of the ensemble's training throughput.
@Suite struct TrainBenchCLITests {
    @Test func reportsThroughputForOneAndTwoThreads() throws {
        let r = try TestSupport.run(TestSupport.robotdPath, ["bench", "train", "--samples", "1024", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try TestSupport.json(r.stdout) as? [String: Any])
        let throughput = try #require(json["member_samples_per_s"] as? [String: Double])
        #expect((throughput["threads_1"] ?? 0) > 0 && (throughput["threads_2"] ?? 0) > 0)
        let p = try #require(json["ensemble_predict_us"] as? [String: Any])
        func ordered(_ q: [String: Any]?) -> Bool {
            guard let q, let p50 = q["p50"] as? Double, let p90 = q["p90"] as? Double, let p99 = q["p99"] as? Double,
                  let max = q["max"] as? Double else { return false }
            return p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= max
        }
        #expect(ordered(p))
        #expect(ordered(p["threads_1"] as? [String: Any]))
        // Two cores when the process may use two (the top level is then the split's figures),
        // else one: whichever, the report says which and holds it.
        let threads = try #require(p["threads"] as? Int)
        #expect(threads == 1 || threads == 2)
        #expect((p["threads_2"] != nil) == (threads == 2))
        let top = try #require(p[threads == 2 ? "threads_2" : "threads_1"] as? [String: Any])
        #expect(ordered(top) && p["p50"] as? Double == top["p50"] as? Double)
        if threads == 2 {
            #expect(p["pinned"] as? Bool != nil)
            let share = try #require(p["helper_took_part"] as? Double)
            #expect(share >= 0 && share <= 1, "helper_took_part \(share)")
        }
        #expect(json["widths"] as? [Int] == [18, 200, 200, 200, 12])
    }

    /// `--single-core` and `--widths` (the daemon's default residual ensemble), and a malformed
    /// `--widths` refused with what was expected.
    @Test func widthsAndSingleCore() throws {
        let r = try TestSupport.run(TestSupport.robotdPath, ["bench", "train", "--samples", "512", "--widths", "12,64,64,12", "--single-core", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try TestSupport.json(r.stdout) as? [String: Any])
        #expect(json["widths"] as? [Int] == [12, 64, 64, 12])
        let p = try #require(json["ensemble_predict_us"] as? [String: Any])
        #expect(p["threads"] as? Int == 1 && p["threads_2"] == nil)
        let bad = try TestSupport.run(TestSupport.robotdPath, ["bench", "train", "--widths", "12,x,12", "--json"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--widths") && bad.stderr.contains("12,x,12"), "\(bad.stderr)")
    }
}
