import ControlProtocol
import ControlSocket

/// How `robotctl` ends on each client error: the exit codes follow sysexits(3) where one fits
/// and are listed in `Robotctl`'s discussion.
extension ControlClientError {
    var exitCode: Int32 {
        switch self {
        case .usage: return 64
        case .unreachable, .connectionLost: return 69
        case .permissionDenied: return 77
        case .rpc(_, let error): return error.code == .notPermitted ? 77 : 1
        case .timeout: return 1
        case .protocolError: return 70
        }
    }

    /// The message for stderr, without the trailing newline.
    var message: String {
        switch self {
        case .usage(let text):
            return "robotctl: \(text)"
        case .unreachable(let path, let reason):
            return "robotctl: cannot connect to robotd at \(path): \(reason) (is robotd running? set --socket or ROBOTD_SOCKET)"
        case .connectionLost(let path, let reason):
            return "robotctl: lost the connection to robotd at \(path): \(reason)"
        case .permissionDenied(let path, let reason):
            return "robotctl: permission denied on \(path): \(reason) (ask for membership in the socket's group)"
        case .rpc(let method, let error):
            var text = "robotctl: \(method) failed: \(error.message) (code \(error.code.rawValue))"
            if let data = error.data { text += "\nrobotctl: error data: \(data.serialized)" }
            return text
        case .timeout(let method, let seconds):
            return "robotctl: \(method) failed: timed out after \(Format.seconds(seconds)) s waiting for robotd (see --timeout)"
        case .protocolError(let text):
            return "robotctl: protocol error: \(text)"
        }
    }
}
