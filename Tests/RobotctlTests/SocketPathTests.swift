import Testing

/// robotctl turns `UnixSocketAddress`'s refusal into a usage error (exit 64) naming the limit.
@Suite struct SocketPathTests {
    @Test func robotctlRefusesATooLongSocketPathAsAUsageError() throws {
        let tooLong = "/tmp/" + String(repeating: "x", count: 103)
        let r = try Robotctl.run(["status", "--socket", tooLong])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("socket path is longer than 107 bytes"), "\(r.stderr)")
    }
}
