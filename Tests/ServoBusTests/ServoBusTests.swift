import ServoBus
import Testing

@Suite struct ServoBusModuleTests {
    @Test func speaksBothProtocols() { #expect(ServoBus.protocols.count == 2) }
}
