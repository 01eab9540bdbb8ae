import ControlProtocol
import Glibc

/// Who may do what on the control socket (docs/protocol.md, "Access control"): uid 0 and the
/// daemon's own uid are operators; `operators` and `observers` list user names and `@group`s.
/// Group membership is looked up when a peer connects (primary and supplementary groups), so a
/// change to /etc/group applies to new connections without a restart.
public struct AccessPolicy: Sendable {
    public var daemonUID: uid_t
    public var operators: [String]
    public var observers: [String]

    public init(daemonUID: uid_t = getuid(), operators: [String], observers: [String]) {
        self.daemonUID = daemonUID
        self.operators = operators
        self.observers = observers
    }

    public func role(uid: uid_t, gid: gid_t) -> Role {
        if uid == 0 || uid == daemonUID { return .operator }
        let user = Self.userName(uid)
        let groups = Self.groupNames(user: user, primary: gid)
        func matches(_ list: [String]) -> Bool {
            list.contains { entry in
                entry.hasPrefix("@") ? groups.contains(String(entry.dropFirst())) : entry == user
            }
        }
        if matches(operators) { return .operator }
        if matches(observers) { return .observer }
        return .none
    }

    /// Entries that name no user or group on this machine (logged at start-up: likely typos).
    public func unknownEntries() -> [String] {
        (operators + observers).filter { entry in
            if entry.hasPrefix("@") { return getgrnam(String(entry.dropFirst())) == nil }
            return getpwnam(entry) == nil
        }
    }

    static func userName(_ uid: uid_t) -> String? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return String(cString: pwd.pw_name)
    }

    static func groupName(_ gid: gid_t) -> String? {
        var grp = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrgid_r(gid, &grp, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return String(cString: grp.gr_name)
    }

    /// Names of the primary group and, when the user is known, every group `getgrouplist` lists.
    static func groupNames(user: String?, primary: gid_t) -> Set<String> {
        var gids: [gid_t] = [primary]
        if let user {
            var count: Int32 = 64
            var list = [gid_t](repeating: 0, count: Int(count))
            if getgrouplist(user, primary, &list, &count) == -1 {
                list = [gid_t](repeating: 0, count: Int(count))
                _ = getgrouplist(user, primary, &list, &count)
            }
            gids += list.prefix(Int(max(0, count)))
        }
        return Set(gids.compactMap(groupName))
    }
}
