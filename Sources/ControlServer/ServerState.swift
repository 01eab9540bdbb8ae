import ControlProtocol
import Glibc
import Logging
import NIOCore
import NIOPosix
import Platform


/// Everything connections share; lives on the server's event loop.
final class ServerState {
    let service: ControlService
    let policy: AccessPolicy
    let logger: Logger
    let options: ControlServer.Options
    /// Admitted connections in the general pool, in the operators' reserve, and per
    /// non-operator uid (docs/protocol.md, "Limits").
    var generalConnections = 0
    var reservedConnections = 0
    var connectionsPerUID: [uid_t: Int] = [:]

    enum Admission {
        case general
        case reserved
        case refused(String)
    }

    /// Decided after SO_PEERCRED, when the role is known: operators are exempt from the per-uid
    /// limit and may use the reserve.
    func admit(uid: uid_t, role: Role) -> Admission {
        if role != .operator, connectionsPerUID[uid, default: 0] >= options.maxConnectionsPerUID {
            return .refused("daemon busy: too many connections from uid \(uid) (socket.max_connections_per_uid = \(options.maxConnectionsPerUID))")
        }
        let admission: Admission
        if generalConnections < options.maxConnections {
            generalConnections += 1
            admission = .general
        } else if role == .operator, reservedConnections < options.operatorReservedConnections {
            reservedConnections += 1
            admission = .reserved
        } else {
            let reserve = role == .operator ? " and the \(options.operatorReservedConnections) reserved for operators (socket.operator_reserved_connections)" : ""
            return .refused("daemon busy: too many connections (socket.max_connections = \(options.maxConnections)\(reserve) are open)")
        }
        if role != .operator { connectionsPerUID[uid, default: 0] += 1 }
        return admission
    }

    func release(_ admission: Admission, uid: uid_t, role: Role) {
        switch admission {
        case .general: generalConnections -= 1
        case .reserved: reservedConnections -= 1
        case .refused: return
        }
        if role != .operator {
            let n = connectionsPerUID[uid, default: 1] - 1
            connectionsPerUID[uid] = n > 0 ? n : nil
        }
    }

    let files: NIOThreadPool
    /// Every connection's telemetry stream.
    let telemetry: TelemetryHub

    init(access: LoopAccess, info: DaemonInfo, policy: AccessPolicy, logger: Logger, options: ControlServer.Options, eventLoop: EventLoop,
         files: NIOThreadPool) {
        self.files = files
        let service = ControlService(access: access, info: info, eventLoop: eventLoop, logLevel: LogLevelControl.shared, files: files)
        self.service = service
        telemetry = TelemetryHub(eventLoop: eventLoop, snapshot: access.telemetry, sample: { [unowned service] in service.telemetrySample(from: $0) })
        self.policy = policy
        self.logger = logger
        self.options = options
    }
}

/// `struct ucred` of <sys/socket.h> (pid_t, uid_t, gid_t), which Glibc hides behind _GNU_SOURCE.
struct PeerCredentials: Sendable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}
