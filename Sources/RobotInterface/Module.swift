// RobotInterface
