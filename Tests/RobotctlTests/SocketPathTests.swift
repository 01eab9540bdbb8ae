import Testing

/// robotctl's side of `UnixSocketAddress`'s length check (ControlProtocolTests tests the check).
extension RobotctlTests {
    @Test func robotctlRefusesATooLongSocketPathAsAUsageError() throws {
        let tooLong = "/tmp/" + String(repeating: "x", count: 103)
        let r = try Robotctl.run(["status", "--socket", tooLong])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("socket path is longer than 107 bytes"), "\(r.stderr)")
    }
}
