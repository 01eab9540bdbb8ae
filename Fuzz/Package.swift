// swift-tools-version:6.1
// libFuzzer targets for robotd's parsers of untrusted input (README "Fuzzing"). A separate
// package so that the sanitizer flags never touch the main build: `make fuzz` builds it with
// `--sanitize fuzzer --sanitize address` into .build-fuzz. The library targets are symlinks to the
// main package's sources (only the modules the parsers need, so the cold build stays small): the
// control socket's JSON parser and JSON-RPC request decoder are the real ones, in the pure
// ControlProtocol module (no NIO, no sockets).
import PackageDescription

let package = Package(
    name: "robotd-fuzz",
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CLapack", path: "Sources/CLapack", pkgConfig: "lapacke"),
        .target(name: "CVectorMath"),
        .target(name: "CRiccati"),
        .target(name: "LinearAlgebra", dependencies: ["CLapack", .product(name: "RealModule", package: "swift-numerics")]),
        .target(name: "RigidBody", dependencies: ["LinearAlgebra", .product(name: "RealModule", package: "swift-numerics")]),
        .target(
            name: "Learning",
            dependencies: ["LinearAlgebra", "CVectorMath", .product(name: "RealModule", package: "swift-numerics")]
        ),
        // Planning reads ControlRuntime's `Transition` (its residual learner), which pulls in the
        // tick's pure modules.
        .target(name: "RobotInterface"),
        .target(name: "Control", dependencies: ["RigidBody", "RobotInterface", "LinearAlgebra", "Learning"]),
        .target(name: "ControlRuntime", dependencies: ["Control", "RigidBody", "RobotInterface"]),
        .target(
            name: "Planning",
            dependencies: ["RigidBody", "LinearAlgebra", "Learning", "ControlRuntime", "CRiccati", .product(name: "RealModule", package: "swift-numerics")]
        ),
        .target(name: "ModelFiles", dependencies: ["Learning"]),
        .target(name: "CLinuxRT"),
        // Pure: the JSON value, the JSON-RPC framing, and the socket path limit RobotdConfig checks.
        .target(name: "ControlProtocol"),
        // RobotdConfig decodes `mpc.weights` into Planning's `ReachWeights`.
        .target(name: "RobotdConfig", dependencies: ["CLinuxRT", "ControlProtocol", "Planning", .product(name: "Yams", package: "Yams")]),

        .executableTarget(name: "FuzzJSONRPC", dependencies: ["ControlProtocol"]),
        .executableTarget(name: "FuzzURDF", dependencies: ["RigidBody"]),
        .executableTarget(name: "FuzzConfig", dependencies: ["RobotdConfig"]),
        .executableTarget(name: "FuzzSafeTensors", dependencies: ["ModelFiles"]),
    ]
)
