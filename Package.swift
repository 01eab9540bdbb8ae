// swift-tools-version:6.1
// Layering (DESIGN.md §1): C edges → pure core (LinearAlgebra, RigidBody, RobotInterface) →
// I/O edges (SimulationDriver, …) → executables. The pure core imports no Foundation; a test greps for it.
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
        .target(name: "Control", dependencies: ["RigidBody", "RobotInterface", "LinearAlgebra"]),
        .target(name: "ControlRuntime", dependencies: ["Control", "RigidBody", "RobotInterface", "Learning"]),
        .target(
            name: "Learning",
            dependencies: ["LinearAlgebra", "CVectorMath", .product(name: "RealModule", package: "swift-numerics")]
        ),
        .target(
            name: "Planning",
            dependencies: ["RigidBody", "LinearAlgebra", "Learning", .product(name: "RealModule", package: "swift-numerics")]
        ),

        // MARK: I/O edges
        .target(name: "SimulationDriver", dependencies: ["RigidBody", "RobotInterface", "LinearAlgebra"]),
        .target(name: "RobotdConfig", dependencies: ["CLinuxRT", "ControlProtocol", "Planning", .product(name: "Yams", package: "Yams")]),
        .target(name: "ModelFiles", dependencies: ["Learning"]),
        .target(name: "Platform", dependencies: ["CSystemd", "CLinuxRT", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "ControlServer",
            dependencies: [
                "ControlProtocol", "ControlRuntime", "RobotdConfig", "Platform", "Learning", "ModelFiles",
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

        // MARK: executables
        .executableTarget(
            name: "robotd",
            dependencies: [
                "LinearAlgebra", "RigidBody", "RobotInterface", "SimulationDriver", "RobotdConfig",
                "RobotDaemon", "Platform", "ControlRuntime", "Planning", "Learning", "ModelFiles", "AllocationCounter",
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
            dependencies: ["Control", "RigidBody", "RobotInterface", "SimulationDriver", "AllocationCounter"]
        ),
        .testTarget(
            name: "ControlRuntimeTests",
            dependencies: ["ControlRuntime", "Control", "RigidBody", "RobotInterface", "SimulationDriver", "AllocationCounter", "BuildInfo", "Learning"]
        ),
        .testTarget(name: "RobotdTests", dependencies: ["ControlProtocol", "RigidBody", "LinearAlgebra", "Learning", "ModelFiles", "BuildInfo"]),
        .testTarget(name: "RobotctlTests", dependencies: ["ControlProtocol"]),
        .testTarget(name: "ControlServerTests", dependencies: ["ControlProtocol", "ControlServer"]),
        .testTarget(name: "LearningTests", dependencies: ["Learning", "CVectorMath", "ModelFiles", "AllocationCounter", "BuildInfo"]),
        .testTarget(name: "PlanningTests", dependencies: ["Planning", "RigidBody", "LinearAlgebra", "Learning", "AllocationCounter", "BuildInfo"]),
        .testTarget(
            name: "RobotDaemonTests",
            dependencies: [
                "RobotDaemon", "ControlRuntime", "Control", "RigidBody", "RobotInterface", "SimulationDriver",
                "RobotdConfig", "Platform", "AllocationCounter", "LinearAlgebra", "Learning", "BuildInfo", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "RobotdConfigTests", dependencies: ["RobotdConfig", "Planning"]),
        .testTarget(name: "PlatformTests", dependencies: ["ControlProtocol", "Platform", "CLinuxRT", .product(name: "Logging", package: "swift-log")]),
    ]
)
