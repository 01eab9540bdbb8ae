import ControlProtocol
@testable import ControlServer
import Testing

/// Role resolution with the real user and group databases.
@Suite struct AccessPolicyTests {
    @Test func rootAndTheDaemonUserAreOperators() {
        let p = AccessPolicy(daemonUID: 4242, operators: [], observers: [])
        #expect(p.role(uid: 0, gid: 0) == .operator)
        #expect(p.role(uid: 4242, gid: 4242) == .operator)
        #expect(p.role(uid: 65534, gid: 65534) == .none)
    }

    @Test func namesAndGroupsGrantRoles() throws {
        // `nobody` (65534) and group `nogroup` exist on Debian.
        try #require(AccessPolicy.userName(65534) == "nobody")
        let byName = AccessPolicy(daemonUID: 4242, operators: [], observers: ["nobody"])
        #expect(byName.role(uid: 65534, gid: 65534) == .observer)
        let byGroup = AccessPolicy(daemonUID: 4242, operators: ["@nogroup"], observers: [])
        #expect(byGroup.role(uid: 65534, gid: 65534) == .operator)
        #expect(AccessPolicy(daemonUID: 4242, operators: ["nobodyy", "@nosuchgroup"], observers: []).unknownEntries() == ["nobodyy", "@nosuchgroup"])
    }
}
