import ServoProtocol
import Testing

@Suite struct ServoProtocolFamilyTests {
    @Test func bothFamiliesAreNamedAsInTheConfiguration() {
        #expect(ServoProtocolFamily(rawValue: "dynamixel") == .dynamixel)
        #expect(ServoProtocolFamily(rawValue: "feetech") == .feetech)
    }
}
