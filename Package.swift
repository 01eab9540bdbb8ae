// swift-tools-version:6.1
// Layering (DESIGN.md §1): C edges → pure core (LinearAlgebra, RigidBody, RobotInterface, …) →
// I/O edges (SimulationDriver, …) → composition (RobotDaemon, Benchmarks) → executables.
// The pure core imports no Foundation; a test greps for it.
// ControlProtocol sits beside the pure core (sockets and JSON, but no NIO and no daemon module).
import PackageDescription

let package = Package(
    name: "robotd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "robotd", targets: ["robotd"]),
        .executable(name: "robotctl", targets: ["robotctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // RealModule: sin/cos/exp for the pure core without importing Glibc or Foundation.
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        // Yams 5 composes nodes with line marks and leaves duplicate keys to us, so the config
        // reader can name the key path of a duplicate (Yams 6 rejects them without one).
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // The control socket's event loop (issue 4 asks for SwiftNIO): NIOCore + NIOPosix only.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // MARK: C edges
        .systemLibrary(
            name: "CLapack",
            path: "Sources/CLapack",
            pkgConfig: "lapacke",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .systemLibrary(
            name: "CSerialPort",
            path: "Sources/CSerialPort",
            pkgConfig: "libserialport",
            providers: [.apt(["libserialport-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            path: "Sources/CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(name: "CLinuxRT"),
        // Single-input inference kernels: SiLU and its gradient, W x + b, W diag(d) X (the input
        // Jacobian), built for baseline x86-64 and AVX2+FMA, one set picked at load time.
        .target(name: "CVectorMath"),
        // Interposes malloc (thread-local counts) in robotd and the test executables, so that
        // "the tick allocates nothing" is measured in the daemon itself, not assumed.
        .target(name: "AllocationCounter"),

        // MARK: pure core
        .target(
            name: "LinearAlgebra",
            dependencies: ["CLapack", .product(name: "RealModule", package: "swift-numerics")]
        ),
        .target(
            name: "RigidBody",
            dependencies: ["LinearAlgebra", .product(name: "RealModule", package: "swift-numerics")]
        ),
        .target(name: "RobotInterface"),
        // The control socket's vocabulary and client (method names, `sockaddr_un`, the line
        // JSON-RPC client): Glibc sockets and Foundation's JSONSerialization, no NIO, no daemon
        // code, so robotctl, the server, the socket benchmark and the tests share one copy.
        .target(name: "ControlProtocol"),
        // The Policy protocol and its MLP implementation (over Learning's networks): the tick
        // sees only the protocol, so teleop and imitation policies plug in beside the MLP.
        .target(name: "Control", dependencies: ["RigidBody", "RobotInterface", "LinearAlgebra", "Learning"]),
        .target(name: "ControlRuntime", dependencies: ["Control", "RigidBody", "RobotInterface"]),
        .target(
            name: "Learning",
            dependencies: ["LinearAlgebra", "CVectorMath", .product(name: "RealModule", package: "swift-numerics")]
        ),
        // Planning also holds `ResidualLearner`. DESIGN.md files it under learning, but it turns the
        // tick's `Transition`s into samples of the planner's rigid-body step and validates candidates
        // along plans with `ResidualDynamics`; Learning cannot hold it, as Planning builds on
        // Learning's MLPs. Planning therefore reads ControlRuntime's `Transition` record: an arrow
        // that points down, because the tick never plans (it evaluates a published plan's arrays)
        // and ControlRuntime imports no Planning.
        .target(
            name: "Planning",
            dependencies: [
                "RigidBody", "LinearAlgebra", "Learning", "ControlRuntime",
                .product(name: "RealModule", package: "swift-numerics"),
            ]
        ),

        // MARK: I/O edges
        .target(name: "SimulationDriver", dependencies: ["RigidBody", "RobotInterface", "LinearAlgebra"]),
        .target(name: "RobotdConfig", dependencies: ["CLinuxRT", "ControlProtocol", .product(name: "Yams", package: "Yams")]),
        .target(name: "ModelFiles", dependencies: ["Learning"]),
        .target(name: "Platform", dependencies: ["CSystemd", "CLinuxRT", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "ControlServer",
            dependencies: [
                "ControlProtocol", "Control", "ControlRuntime", "RobotdConfig", "Platform", "Learning", "ModelFiles",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RobotDaemon",
            dependencies: [
                "ControlServer", "ControlProtocol", "ControlRuntime", "Control", "RigidBody", "RobotInterface", "SimulationDriver", "RobotdConfig",
                "Platform", "LinearAlgebra", "AllocationCounter", "Planning", "Learning", "ModelFiles",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Every `robotd bench …`: the daemon's parts under load (loop, socket, adapt) and the
        // kernels alone (dynamics, ilqr, policy, train). Beside RobotDaemon in the composition
        // layer, so the executable only parses arguments and prints the JSON the benchmarks return.
        .target(
            name: "Benchmarks",
            dependencies: [
                "RobotDaemon", "ControlServer", "ControlProtocol", "ControlRuntime", "RobotdConfig", "Platform",
                "RigidBody", "LinearAlgebra", "Planning", "Learning", "ModelFiles", "AllocationCounter",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: executables
        .executableTarget(
            name: "robotd",
            dependencies: [
                "LinearAlgebra", "RigidBody", "RobotInterface", "SimulationDriver", "RobotdConfig",
                "RobotDaemon", "Benchmarks", "AllocationCounter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The client: plain sockets and JSON, no daemon code, so it stays small and starts fast.
        .executableTarget(
            name: "robotctl",
            dependencies: ["ControlProtocol", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // MARK: tests
        .target(name: "BuildInfo", path: "Tests/BuildInfo"),
        .testTarget(
            name: "LinearAlgebraTests",
            dependencies: ["LinearAlgebra", "AllocationCounter", .product(name: "RealModule", package: "swift-numerics")]
        ),
        .testTarget(name: "RigidBodyTests", dependencies: ["RigidBody", "LinearAlgebra", "AllocationCounter"]),
        .testTarget(
            name: "SimulationDriverTests",
            dependencies: ["SimulationDriver", "RigidBody", "RobotInterface", "AllocationCounter"]
        ),
        .testTarget(
            name: "ControlTests",
            dependencies: ["Control", "RigidBody", "RobotInterface", "SimulationDriver", "Learning", "AllocationCounter"]
        ),
        .testTarget(
            name: "ControlRuntimeTests",
            dependencies: ["ControlRuntime", "Control", "RigidBody", "RobotInterface", "SimulationDriver", "AllocationCounter", "BuildInfo", "Learning"]
        ),
        .testTarget(name: "RobotdTests", dependencies: ["ControlProtocol", "Learning", "ModelFiles", "BuildInfo"]),
        .testTarget(name: "ControlProtocolTests", dependencies: ["ControlProtocol"]),
        .testTarget(name: "RobotctlTests", dependencies: ["ControlProtocol"]),
        .testTarget(name: "ControlServerTests", dependencies: ["ControlProtocol", "ControlServer"]),
        .testTarget(name: "LearningTests", dependencies: ["Learning", "LinearAlgebra", "CVectorMath", "AllocationCounter", "BuildInfo"]),
        .testTarget(name: "ModelFilesTests", dependencies: ["ModelFiles", "Learning"]),
        .testTarget(
            name: "PlanningTests",
            dependencies: [
                "Planning", "RigidBody", "LinearAlgebra", "Learning", "AllocationCounter", "BuildInfo",
                // ResidualLearnerTests: transitions of the simulated arm under a PD controller.
                "ControlRuntime", "Control", "RobotInterface", "SimulationDriver",
            ]
        ),
        .testTarget(
            name: "RobotDaemonTests",
            dependencies: [
                "RobotDaemon", "ControlRuntime", "Control", "RigidBody", "RobotInterface", "SimulationDriver",
                "RobotdConfig", "Platform", "AllocationCounter", "LinearAlgebra", "Learning", "BuildInfo", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "RobotdConfigTests", dependencies: ["RobotdConfig"]),
        .testTarget(name: "PlatformTests", dependencies: ["ControlProtocol", "Platform", "CLinuxRT", .product(name: "Logging", package: "swift-log")]),
    ]
)
