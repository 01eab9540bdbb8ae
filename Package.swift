// swift-tools-version:6.1
// Layering (docs/architecture.md §1): C edges → pure core (LinearAlgebra, RigidBody, RobotInterface, …) →
// I/O edges (SimulationDriver, …) → composition (RobotDaemon, Benchmarks) → executables.
// The pure core imports no Foundation; a test greps for it.
// ControlProtocol (the socket's vocabulary: JSON, JSON-RPC, methods, typed params and results) is
// pure core too; ControlSocket (its Unix-socket client and address) is an I/O edge without NIO.
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
        // The episode store (issue 16 asks for SQLite through GRDB, in WAL mode): Debian's
        // libsqlite3 underneath (scripts/setup.sh installs libsqlite3-dev).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
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
        // The dense products of an iLQR backward-pass node (Q blocks, value Hessian) for arm-sized
        // matrices, built for baseline, AVX2+FMA (the default where the CPU has it) and AVX-512F.
        .target(name: "CRiccati"),
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
        // The control socket's vocabulary: the JSON value with its bounded parser and sorted-key
        // printer, JSON-RPC requests, replies and the one error type, the method names, typed
        // params and results. Pure, so the server, robotctl, the benchmark, the tests and the
        // fuzz target share one copy.
        .target(name: "ControlProtocol"),
        // The Policy protocol and its MLP implementation (over Learning's networks): the tick
        // sees only the protocol, so teleop and imitation policies plug in beside the MLP.
        .target(name: "Control", dependencies: ["RigidBody", "RobotInterface", "LinearAlgebra", "Learning"]),
        .target(name: "ControlRuntime", dependencies: ["Control", "RigidBody", "RobotInterface"]),
        .target(
            name: "Learning",
            dependencies: ["LinearAlgebra", "CVectorMath", .product(name: "RealModule", package: "swift-numerics")]
        ),
        // Planning also holds `ResidualLearner`. docs/architecture.md files it under learning, but it turns the
        // tick's `Transition`s into samples of the planner's rigid-body step and validates candidates
        // along plans with `ResidualDynamics`; Learning cannot hold it, as Planning builds on
        // Learning's MLPs. Planning therefore reads ControlRuntime's `Transition` record: an arrow
        // that points down, because the tick never plans (it evaluates a published plan's arrays)
        // and ControlRuntime imports no Planning.
        .target(
            name: "Planning",
            dependencies: [
                "RigidBody", "LinearAlgebra", "Learning", "ControlRuntime", "CRiccati",
                .product(name: "RealModule", package: "swift-numerics"),
            ]
        ),

        // Servo-bus protocols without I/O (issue 14): Dynamixel Protocol 2.0 and Feetech SCS/STS
        // packets (encoders, decoders that return a typed result or error for any bytes), the
        // control tables, and emulated servos as pure state machines (packet in, replies out).
        .target(name: "ServoProtocol"),
        // SHA-256 for content hashes (calibration, URDF, configuration) in status and provenance.
        .target(name: "Digest"),
        // A minimal Parquet writer (PLAIN, uncompressed, one row group, REQUIRED columns and lists)
        // for the LeRobot v3 export: file bytes from column arrays, no I/O.
        .target(name: "Parquet"),
        // LeRobotDataset v3.0 from an in-memory dataset: data/episodes/tasks Parquet (through
        // Parquet), info.json and stats.json (through ControlProtocol's JSON), bytes per path.
        .target(name: "LeRobotExport", dependencies: ["Parquet", "ControlProtocol"]),

        // MARK: I/O edges
        .target(name: "SimulationDriver", dependencies: ["RigidBody", "RobotInterface", "LinearAlgebra"]),
        .target(name: "RobotdConfig", dependencies: ["CLinuxRT", "ControlProtocol", "Planning", .product(name: "Yams", package: "Yams")]),
        // The socket side of the protocol without NIO: the one `sockaddr_un` builder with its
        // length check, SCM_RIGHTS messages, and the careful line JSON-RPC client (EINTR,
        // CLOEXEC, timeouts, typed errors, descriptor passing) that robotctl, the socket
        // benchmark and the tests use.
        .target(name: "ControlSocket", dependencies: ["ControlProtocol"]),
        .target(name: "ModelFiles", dependencies: ["Learning"]),
        .target(name: "Platform", dependencies: ["CSystemd", "CLinuxRT", .product(name: "Logging", package: "swift-log")]),
        // What the control server calls in the daemon (the MPC planner, the learner), typed, so
        // that they implement it without linking the server.
        .target(name: "ControlPorts", dependencies: ["ControlProtocol", "ModelFiles"]),
        .target(
            name: "ControlServer",
            dependencies: [
                "ControlProtocol", "ControlSocket", "ControlPorts", "Control", "ControlRuntime", "RobotdConfig", "Platform", "Learning", "ModelFiles",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RobotDaemon",
            dependencies: [
                "ControlServer", "ControlPorts", "ControlProtocol", "ControlSocket", "ControlRuntime", "Control", "RigidBody", "RobotInterface", "SimulationDriver", "RobotdConfig",
                "ServoDriver", "ServoProtocol", "EpisodeStore", "Digest",
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
                "RobotDaemon", "ControlServer", "ControlProtocol", "ControlSocket", "ControlRuntime", "RobotdConfig", "Platform",
                "RigidBody", "LinearAlgebra", "Planning", "Learning", "ModelFiles", "AllocationCounter",
                "ServoBus", "ServoProtocol", "EpisodeStore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Servo buses on real adapters (libserialport) and pseudo-terminals (termios): the
        // transaction layer (discard stale input, whole writes, deadline reads, reply matching)
        // and the bus emulator's host (a PTY at a stable path, wire time paced at the baud).
        .target(
            name: "ServoBus",
            dependencies: ["ServoProtocol", "CSerialPort", "Platform", "CLinuxRT", "SimulationDriver", "RigidBody", "RobotInterface"]
        ),

        // The servo-bus arms as `RobotDriver`s (issue 15): the bus cycle on the driver's own I/O
        // thread, calibration (robotd's files and LeRobot imports), bus health for status.
        .target(
            name: "ServoDriver",
            dependencies: ["ServoBus", "ServoProtocol", "RobotInterface", "Platform", "CLinuxRT", "Digest", "Control", "ControlRuntime"]
        ),

        // Recorded episodes in SQLite (WAL) under `data_directory`: the schema, crash recovery
        // (an episode left `recording` opens as `incomplete`), the value types the recorder
        // writes and the exporter reads.
        .target(name: "EpisodeStore", dependencies: [.product(name: "GRDB", package: "GRDB.swift")]),
        // Recorded episodes → LeRobotDataset v3.0 files in a directory (info.json last, by rename).
        .target(name: "DatasetExport", dependencies: ["EpisodeStore", "LeRobotExport", "ControlProtocol"]),

        // MARK: executables
        .executableTarget(
            name: "robotd",
            dependencies: [
                "LinearAlgebra", "RigidBody", "RobotInterface", "SimulationDriver", "RobotdConfig",
                "RobotDaemon", "Benchmarks", "AllocationCounter", "ServoBus", "ServoProtocol", "ServoDriver", "Platform",
                "EpisodeStore", "DatasetExport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The client: the protocol and its socket client, no daemon code, so it stays small and
        // starts fast (LayeringTests holds it to these three imports).
        .executableTarget(
            name: "robotctl",
            dependencies: ["ControlProtocol", "ControlSocket", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // MARK: tests
        .target(name: "BuildInfo", path: "Tests/BuildInfo"),
        // Running a child process (Python oracles, robotd, the vendors' SDKs) from any suite.
        .target(name: "TestProcess", path: "Tests/TestProcess"),
        .testTarget(
            name: "LinearAlgebraTests",
            dependencies: ["LinearAlgebra", "AllocationCounter", .product(name: "RealModule", package: "swift-numerics")]
        ),
        .testTarget(
            name: "RigidBodyTests", dependencies: ["TestProcess", "RigidBody", "LinearAlgebra", "AllocationCounter"],
            exclude: ["Fixtures"]
        ),
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
        .testTarget(name: "RobotdTests", dependencies: ["TestProcess", "ControlProtocol", "ControlSocket", "Learning", "ModelFiles", "BuildInfo", "ServoBus", "ServoProtocol"]),
        .testTarget(name: "ControlProtocolTests", dependencies: ["ControlProtocol"]),
        .testTarget(name: "ControlSocketUnitTests", dependencies: ["ControlSocket", "ControlProtocol"]),
        .testTarget(name: "RobotctlTests", dependencies: ["ControlProtocol", "ControlSocket", "TestProcess"]),
        .testTarget(name: "ControlServerTests", dependencies: ["ControlProtocol", "ControlSocket", "ControlServer", "ControlRuntime",
                                                              .product(name: "NIOCore", package: "swift-nio"),
                                                              .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "LearningTests", dependencies: ["Learning", "LinearAlgebra", "CVectorMath", "AllocationCounter", "BuildInfo"]),
        .testTarget(name: "ModelFilesTests", dependencies: ["TestProcess", "ModelFiles", "Learning"]),
        .testTarget(
            name: "PlanningTests",
            dependencies: [
                "Planning", "RigidBody", "LinearAlgebra", "Learning", "AllocationCounter", "BuildInfo", "CRiccati",
                // ResidualLearnerTests: transitions of the simulated arm under a PD controller.
                "ControlRuntime", "Control", "RobotInterface", "SimulationDriver",
            ]
        ),
        .testTarget(
            name: "RobotDaemonTests",
            dependencies: [
                "RobotDaemon", "ControlProtocol", "ControlRuntime", "Control", "RigidBody", "RobotInterface", "SimulationDriver",
                "RobotdConfig", "Platform", "AllocationCounter", "LinearAlgebra", "Learning", "BuildInfo", .product(name: "Logging", package: "swift-log"),
                "EpisodeStore",
            ]
        ),
        .testTarget(name: "ServoProtocolTests", dependencies: ["TestProcess", "ServoProtocol", "LinearAlgebra", "AllocationCounter"]),
        .testTarget(name: "ServoBusTests", dependencies: ["ServoBus", "ServoProtocol", "BuildInfo", "AllocationCounter"]),
        .testTarget(
            name: "ServoDriverTests",
            dependencies: [
                "ServoDriver", "ServoBus", "ServoProtocol", "RobotInterface", "SimulationDriver", "RigidBody", "Digest",
                "AllocationCounter", "BuildInfo", "TestProcess", "Control", "ControlRuntime",
            ]
        ),
        .testTarget(name: "ParquetTests", dependencies: ["Parquet", "TestProcess"]),
        .testTarget(name: "LeRobotExportTests", dependencies: ["LeRobotExport", "Parquet", "ControlProtocol", "TestProcess"]),
        .testTarget(name: "EpisodeStoreTests", dependencies: ["EpisodeStore", "TestProcess", "BuildInfo", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "DatasetExportTests", dependencies: ["DatasetExport", "EpisodeStore", "LeRobotExport", "ControlProtocol", "TestProcess"]),
        .testTarget(name: "RobotdConfigTests", dependencies: ["RobotdConfig", "Planning"]),
        .testTarget(name: "PlatformTests", dependencies: ["ControlSocket", "Platform", "CLinuxRT", .product(name: "Logging", package: "swift-log")]),
    ]
)
