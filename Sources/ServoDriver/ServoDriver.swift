// The servo-bus arms under the control loop (issue 15): `ServoArmDriver` (Driver/), a
// `RobotDriver` over a Feetech or Dynamixel bus whose transactions run on the driver's own I/O
// thread, and the calibration files (robotd's own and LeRobot's) that map counts to joint angles.
//
// Hand-offs with the control thread (docs/architecture.md §2): the tick takes the newest state
// (timestamp and validity included) from a sequence-locked slot and leaves its newest goal in a
// single-slot mailbox; it never waits on the bus.
