import Foundation
import RigidBody

/// Pinocchio, the anchor of `robotd bench dynamics`: `Benchmarks/anchors/pinocchio_dynamics.cpp`
/// compiled on demand against the pip `pin` package's headers (its cmeel prefix, found through
/// `python3 -c 'import cmeel'`), Eigen (the prefix's `include/eigen3`, else Debian's
/// libeigen3-dev) and urdfdom (the prefix), with `g++ -O3 -march=native -DNDEBUG`: the CPU's
/// instructions, as robotd's own release build gets them. The binary is cached in
/// `$TMPDIR/robotd-anchors` (else /tmp) under a name keyed by the source and the flags' hash, so
/// only the first run pays the compile (minutes: Pinocchio is template-heavy).
public enum DynamicsAnchor {
    /// The cached binary, compiled first if needed, or why there is none.
    public static func binary() -> Result<String, AnchorUnavailable> {
        guard let source = Anchor.file("pinocchio_dynamics.cpp") else {
            return .failure(AnchorUnavailable("Benchmarks/anchors/pinocchio_dynamics.cpp not found (set ROBOTD_ANCHORS)"))
        }
        guard let compiler = Anchor.which(ProcessInfo.processInfo.environment["CXX"] ?? "g++") else {
            return .failure(AnchorUnavailable("no C++ compiler (g++; or set CXX)"))
        }
        guard let python = Anchor.python() else { return .failure(AnchorUnavailable("no python3 to find Pinocchio's cmeel prefix")) }
        guard case .ran(let found) = Anchor.run(python, ["-c", """
            import cmeel, json, os
            print(json.dumps({"prefix": os.path.join(os.path.dirname(list(cmeel.__path__)[0]), "cmeel.prefix")}))
            """], timeout: 60), let prefix = found["prefix"] as? String else {
            return .failure(AnchorUnavailable("Python package cmeel not importable: pip install pin (scripts/setup.sh --test)"))
        }
        let fm = FileManager.default
        guard fm.fileExists(atPath: prefix + "/include/pinocchio/algorithm/aba-derivatives.hpp") else {
            return .failure(AnchorUnavailable("no Pinocchio headers under \(prefix)/include (pip install pin)"))
        }
        guard fm.fileExists(atPath: prefix + "/include/urdfdom_headers/urdf_model/model.h") else {
            return .failure(AnchorUnavailable("no urdfdom headers under \(prefix)/include (pip install cmeel-urdfdom-headers)"))
        }
        let eigen = ["\(prefix)/include/eigen3", "/usr/include/eigen3"].first { fm.fileExists(atPath: $0 + "/Eigen/Core") }
        guard let eigen else { return .failure(AnchorUnavailable("no Eigen headers (apt-get install libeigen3-dev)")) }
        // Pinocchio's own CMake interface definitions (pinocchio_headers).
        let flags = [
            "-std=c++17", "-O3", "-march=native", "-DNDEBUG",
            "-DBOOST_MPL_LIMIT_LIST_SIZE=30", "-DBOOST_MPL_LIMIT_VECTOR_SIZE=30",
            "-DBOOST_MPL_CFG_NO_PREPROCESSED_HEADERS", "-DBOOST_FUSION_INVOKE_MAX_ARITY=12",
            "-I\(prefix)/include", "-I\(prefix)/include/urdfdom", "-I\(prefix)/include/urdfdom_headers", "-I\(eigen)",
        ]
        let libs = ["-L\(prefix)/lib", "-lurdfdom_model", "-Wl,-rpath,\(prefix)/lib"]
        guard let text = fm.contents(atPath: source) else { return .failure(AnchorUnavailable("cannot read \(source)")) }
        // FNV-1a over the source, the compiler and the flags: a changed input compiles anew.
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text + Data((compiler + flags.joined() + libs.joined()).utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let cache = tmp + "/robotd-anchors"
        let binary = cache + "/pinocchio_dynamics-" + String(hash, radix: 16)
        if fm.isExecutableFile(atPath: binary) { return .success(binary) }
        do { try fm.createDirectory(atPath: cache, withIntermediateDirectories: true) } catch {
            return .failure(AnchorUnavailable("cannot create \(cache): \(error.localizedDescription)"))
        }
        FileHandle.standardError.write(Data("robotd bench dynamics: compiling the Pinocchio anchor once (minutes) into \(binary)\n".utf8))
        let partial = binary + ".partial-\(getpid())"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: compiler)
        process.arguments = flags + [source, "-o", partial] + libs
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { return .failure(AnchorUnavailable("cannot run \(compiler): \(error.localizedDescription)")) }
        let message = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            try? fm.removeItem(atPath: partial)
            let tail = String(decoding: message, as: UTF8.self).split(separator: "\n").filter { $0.contains("error") }.prefix(2).joined(separator: " | ")
            return .failure(AnchorUnavailable("compiling \(source) failed: \(tail)"))
        }
        // rename(2) is atomic: a concurrent run sees the whole binary or none.
        guard rename(partial, binary) == 0 else { return .failure(AnchorUnavailable("cannot move the anchor binary to \(binary)")) }
        return .success(binary)
    }

    public struct AnchorUnavailable: Error {
        public var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Runs the anchor once on `urdf` with robotd's states (16, each q, v, τ) and the model's
    /// frame, joint order and armature.
    public static func run(binary: String, urdf: String, model: RobotModel, frame: Int,
                           states: [(q: [Double], v: [Double], tau: [Double])], calls: Int, batches: Int) -> Anchor.Outcome {
        let stateText = states.map { s in (s.q + s.v + s.tau).map { "\($0)" }.joined(separator: ",") }.joined(separator: ";")
        let armature = model.joints.filter { $0.armature != 0 }.map { "\($0.name)=\($0.armature)" }.joined(separator: ",")
        var arguments = [urdf, "--frame", model.frames[frame].name, "--calls", "\(calls)", "--batches", "\(batches)",
                         "--dof", "\(model.dof)", "--joints", model.joints.map(\.name).joined(separator: ","), "--states", stateText]
        if !armature.isEmpty { arguments += ["--armature", armature] }
        return Anchor.run(binary, arguments, timeout: 1200)
    }
}
