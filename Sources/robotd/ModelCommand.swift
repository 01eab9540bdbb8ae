import ArgumentParser
import Foundation
import LinearAlgebra
import RigidBody

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect a robot description and evaluate its dynamics.",
        subcommands: [Inspect.self, Eval.self]
    )

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List joints (limits, damping, friction), bodies, total mass and frames."
        )

        @Option(help: "Path to the robot's URDF.") var urdf: String
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() throws {
            let model = try RobotLoading.load(urdfPath: urdf)
            if json {
                try JSONOutput.print(inspection(model))
            } else {
                print(table(model))
            }
        }

        func inspection(_ model: RobotModel) -> [String: Any] {
            var out = inspectionWithoutMimics(model)
            // Only robots with mimic joints carry the key, so other robots' output is unchanged.
            if !model.mimicJoints.isEmpty {
                out["mimic_joints"] = model.mimicJoints.map { m -> [String: Any] in
                    [
                        "name": m.name, "type": m.kind.rawValue, "leader": model.joints[m.leader].name,
                        "multiplier": m.multiplier, "offset": m.offset, "child_link": m.childLink,
                    ]
                }
            }
            return out
        }

        func inspectionWithoutMimics(_ model: RobotModel) -> [String: Any] {
            [
                "robot": model.name,
                "dof": model.dof,
                "total_mass": model.totalMass,
                "base_mass": model.baseMass,
                "joints": model.joints.indices.map { i -> [String: Any] in
                    let j = model.joints[i]
                    return [
                        "name": j.name, "type": j.isContinuous ? "continuous" : j.kind.rawValue,
                        "parent": j.parent >= 0 ? model.joints[j.parent].name : NSNull(),
                        "child_link": j.childLink,
                        "lower": jsonNumber(j.lowerLimit), "upper": jsonNumber(j.upperLimit),
                        "velocity_limit": jsonNumber(j.velocityLimit), "effort_limit": jsonNumber(j.effortLimit),
                        "damping": j.damping, "friction": j.friction,
                        "body_mass": model.bodyInertia(i).mass,
                    ]
                },
                "frames": model.frames.map { f -> [String: Any] in
                    [
                        "name": f.name, "joint": f.joint >= 0 ? model.joints[f.joint].name : NSNull(),
                        "position": f.placement.translation.array, "rotation": f.placement.rotation.rows,
                    ]
                },
            ]
        }

        func table(_ model: RobotModel) -> String {
            var out = "robot \(model.name): \(model.dof) joints, total mass \(fmt(model.totalMass)) kg (base \(fmt(model.baseMass)) kg)\n\n"
            out += pad("joint", 22) + pad("type", 11) + pad("lower", 10) + pad("upper", 10) + pad("vel", 9)
                + pad("effort", 9) + pad("damp", 8) + pad("fric", 8) + "body kg\n"
            for i in model.joints.indices {
                let j = model.joints[i]
                out += pad(j.name, 22) + pad(j.isContinuous ? "continuous" : j.kind.rawValue, 11)
                    + pad(fmt(j.lowerLimit), 10) + pad(fmt(j.upperLimit), 10) + pad(fmt(j.velocityLimit), 9)
                    + pad(fmt(j.effortLimit), 9) + pad(fmt(j.damping), 8) + pad(fmt(j.friction), 8)
                    + fmt(model.bodyInertia(i).mass) + "\n"
            }
            for m in model.mimicJoints {
                out += "\nmimic: \(m.name) = \(fmt(m.multiplier))·\(model.joints[m.leader].name) + \(fmt(m.offset)) (not a degree of freedom)"
            }
            out += "\nframes: " + model.frames.map(\.name).joined(separator: ", ")
            out += "\nunits: rad, m, rad/s, N·m, N·m·s/rad, kg"
            return out
        }
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate rigid-body dynamics at one state (no URDF damping or friction).",
            discussion: """
                Prints ddq (ABA), bias (RNEA with zero acceleration), mass_matrix (CRBA, row-major) \
                and the pose of --frame (default: the last link) in the base frame.
                """
        )

        @Option(help: "Path to the robot's URDF.") var urdf: String
        @Option(parsing: .unconditional, help: "Joint positions, comma-separated (rad or m).") var q: NumberList
        @Option(parsing: .unconditional, help: "Joint velocities, comma-separated; default zeros.") var v: NumberList?
        @Option(parsing: .unconditional, help: "Joint efforts, comma-separated; default zeros.") var tau: NumberList?
        @Option(help: "Frame (URDF link) whose pose to print.") var frame: String?
        @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

        func run() throws {
            Startup.configureMath()
            let model = try RobotLoading.load(urdfPath: urdf)
            let n = model.dof
            let v = self.v?.values ?? Array(repeating: 0, count: n)
            let tau = self.tau?.values ?? Array(repeating: 0, count: n)
            for (name, values) in [("--q", q.values), ("--v", v), ("--tau", tau)] where values.count != n {
                throw ValidationError("\(name) has \(values.count) values; robot \(model.name) has \(n) joints (\(model.joints.map(\.name).joined(separator: ", ")))")
            }
            let frameName = frame ?? model.frames.last?.name ?? ""
            guard let frameIndex = model.frameIndex(named: frameName) else {
                throw ValidationError("no frame named \"\(frameName)\"; frames are \(model.frames.map(\.name).joined(separator: ", "))")
            }
            var ws = model.makeWorkspace()
            model.aba(&ws, q: q.values, v: v, tau: tau)
            let ddq = ws.ddq
            model.bias(&ws, q: q.values, v: v)
            let bias = ws.tau
            model.crba(&ws, q: q.values)
            let m = ws.massMatrix
            let pose = model.framePose(ws, frame: frameIndex)
            try JSONOutput.print([
                "robot": model.name,
                "joint_names": model.joints.map(\.name),
                "ddq": ddq,
                "bias": bias,
                "mass_matrix": (0 ..< n).map { r in (0 ..< n).map { c in m[c * n + r] } },
                "frame": frameName,
                "position": pose.translation.array,
                "rotation": pose.rotation.rows,
            ] as [String: Any])
        }
    }
}

/// JSON has no infinity: unlimited values print as null.
func jsonNumber(_ x: Double) -> Any { x.isFinite ? x : NSNull() }

func fmt(_ x: Double) -> String {
    x.isFinite ? String(format: "%.4g", x) : (x > 0 ? "inf" : "-inf")
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}
