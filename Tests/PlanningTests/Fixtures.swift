import RigidBody

/// The robots the tests moved from the daemon suite load (same name, same files).
enum Fixtures {
    static func sim6() throws -> RobotModel { try PlanningDerivativeTests.sim6() }
}
