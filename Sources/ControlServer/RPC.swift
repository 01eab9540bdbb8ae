/// JSON-RPC 2.0 framing of robotd's control protocol (docs/protocol.md).

/// An error reply: the standard JSON-RPC codes and robotd's application codes.
public struct RPCError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public static let parseErrorCode = -32700
    public static let invalidRequestCode = -32600
    public static let methodNotFoundCode = -32601
    public static let invalidParamsCode = -32602
    public static let internalErrorCode = -32603
    public static let notPermittedCode = -32001
    public static let wrongModeCode = -32002
    public static let busyCode = -32003
    public static let faultCode = -32004

    public static func parseError(_ m: String, data: JSONValue? = nil) -> RPCError { .init(code: parseErrorCode, message: m, data: data) }
    public static func invalidRequest(_ m: String) -> RPCError { .init(code: invalidRequestCode, message: m) }
    public static func methodNotFound(_ method: String) -> RPCError {
        .init(code: methodNotFoundCode, message: "method not found: \(method)", data: ["method": .string(method)])
    }
    public static func invalidParams(_ m: String) -> RPCError { .init(code: invalidParamsCode, message: "invalid params: \(m)") }
    public static func notPermitted(method: String, role: Role, required: Role) -> RPCError {
        .init(code: notPermittedCode, message: "not permitted: \(method) needs the \(required) role, the caller is \(role)",
              data: ["role": .string("\(role)"), "required": .string("\(required)")])
    }
    public static func wrongMode(_ m: String, mode: String) -> RPCError { .init(code: wrongModeCode, message: m, data: ["mode": .string(mode)]) }
    public static func busy(_ m: String, retryAfterMs: Int? = nil) -> RPCError {
        .init(code: busyCode, message: m, data: retryAfterMs.map { ["retry_after_ms": JSONValue($0)] })
    }
    public static func fault(_ m: String, fault: String) -> RPCError { .init(code: faultCode, message: m, data: ["fault": .string(fault)]) }

    public var description: String { "\(message) (\(code))" }

    var json: JSONValue {
        var o: [String: JSONValue] = ["code": JSONValue(code), "message": .string(message)]
        if let data { o["data"] = data }
        return .object(o)
    }
}

/// What a peer may do (docs/protocol.md, "Access control").
public enum Role: Int, Comparable, Sendable, CustomStringConvertible {
    case none
    case observer
    case `operator`

    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .none: "none"
        case .observer: "observer"
        case .operator: "operator"
        }
    }
}

/// A line that is not a valid request, with its id when one could be read (so that the reply
/// can still be matched).
public struct RequestDecodeError: Error, Equatable {
    public var id: JSONValue?
    /// A numeric id as written (see `RPCRequest.idLexeme`).
    public var idLexeme: [UInt8]? = nil
    public var error: RPCError
}

/// One parsed request line.
public struct RPCRequest: Sendable, Equatable {
    /// nil for a notification (no reply is sent).
    public var id: JSONValue?
    public var method: String
    public var params: JSONValue
    /// A numeric id exactly as the client wrote it, echoed in the reply instead of `id`'s value.
    public var idLexeme: [UInt8]? = nil

    /// Decodes a request object; the error carries the id when one could be read, so that the
    /// reply can still be matched.
    public static func decode(_ line: some Collection<UInt8>, lineNumber: Int) -> Result<RPCRequest, RequestDecodeError> {
        let value: JSONValue, lexeme: [UInt8]?
        do {
            (value, lexeme) = try JSONValue.parseRequest(line)
        } catch {
            return .failure(RequestDecodeError(id: nil, error: .parseError("parse error: \(error)", data: ["line": JSONValue(lineNumber)])))
        }
        guard case let .object(o) = value else {
            if case .array = value { return .failure(RequestDecodeError(id: nil, error: .invalidRequest("invalid request: batches are not supported; send one request per line"))) }
            return .failure(RequestDecodeError(id: nil, error: .invalidRequest("invalid request: expected a JSON-RPC request object, got \(value.typeName)")))
        }
        var id: JSONValue?
        if let raw = o["id"] {
            switch raw {
            case .number, .integer, .string, .null: id = raw
            default: return .failure(RequestDecodeError(id: nil, error: .invalidRequest("invalid request: id must be a number or a string")))
            }
        }
        guard o["jsonrpc"] == .string("2.0") else {
            return .failure(RequestDecodeError(id: id ?? .null, idLexeme: lexeme, error: .invalidRequest("invalid request: \"jsonrpc\" must be \"2.0\"")))
        }
        guard case let .string(method)? = o["method"] else {
            return .failure(RequestDecodeError(id: id ?? .null, idLexeme: lexeme, error: .invalidRequest("invalid request: \"method\" must be a string")))
        }
        let params = o["params"] ?? .object([:])
        switch params {
        case .object, .array: break
        default: return .failure(RequestDecodeError(id: id ?? .null, idLexeme: lexeme, error: .invalidRequest("invalid request: \"params\" must be an object or an array")))
        }
        for key in o.keys where !["jsonrpc", "id", "method", "params"].contains(key) {
            return .failure(RequestDecodeError(id: id ?? .null, idLexeme: lexeme, error: .invalidRequest("invalid request: unknown member \"\(key)\"")))
        }
        return .success(RPCRequest(id: id, method: method, params: params, idLexeme: id == nil ? nil : lexeme))
    }
}

/// Reply and notification lines (UTF-8, without the newline), keys sorted.
enum RPCResponse {
    static func result(id: JSONValue, idLexeme: [UInt8]? = nil, _ result: JSONValue) -> [UInt8] {
        guard let idLexeme else { return JSONValue.object(["jsonrpc": "2.0", "id": id, "result": result]).serializedBytes }
        return reply(idLexeme: idLexeme, member: "result", result)
    }

    static func error(id: JSONValue?, idLexeme: [UInt8]? = nil, _ error: RPCError) -> [UInt8] {
        guard let idLexeme else { return JSONValue.object(["jsonrpc": "2.0", "id": id ?? .null, "error": error.json]).serializedBytes }
        return reply(idLexeme: idLexeme, member: "error", error.json)
    }

    /// A reply whose id is the request's numeric lexeme, keys sorted as `serializedBytes` sorts
    /// them ("error" < "id" < "jsonrpc" < "result").
    private static func reply(idLexeme: [UInt8], member: String, _ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = Array("{".utf8)
        if member == "error" {
            out += Array("\"error\":".utf8)
            value.write(to: &out)
            out.append(UInt8(ascii: ","))
        }
        out += Array("\"id\":".utf8) + idLexeme + Array(",\"jsonrpc\":\"2.0\"".utf8)
        if member == "result" {
            out += Array(",\"result\":".utf8)
            value.write(to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func notification(method: String, params: JSONValue) -> [UInt8] {
        JSONValue.object(["jsonrpc": "2.0", "method": .string(method), "params": params]).serializedBytes
    }
}

/// Typed access to a request's params with errors that name the parameter.
public struct Params {
    let value: JSONValue
    let method: String

    init(_ value: JSONValue, method: String) {
        self.value = value
        self.method = method
    }

    /// Rejects params this method does not know (a typo must not pass silently).
    func allowOnly(_ keys: Set<String>) throws(RPCError) {
        if case let .array(a) = value, !a.isEmpty {
            throw .invalidParams("\(method) takes named params (an object)")
        }
        guard case let .object(o) = value else { return }
        for k in o.keys.sorted() where !keys.contains(k) {
            let known = keys.isEmpty ? "none" : keys.sorted().joined(separator: ", ")
            throw .invalidParams("unknown param \"\(k)\" for \(method) (known: \(known))")
        }
    }

    func optionalNumber(_ key: String) throws(RPCError) -> Double? {
        guard let v = value[key], v != .null else { return nil }
        guard let x = v.doubleValue else { throw .invalidParams("\"\(key)\" must be a number, got \(v.typeName)") }
        return x
    }

    func optionalBool(_ key: String) throws(RPCError) -> Bool? {
        guard let v = value[key], v != .null else { return nil }
        guard case let .bool(b) = v else { throw .invalidParams("\"\(key)\" must be true or false, got \(v.typeName)") }
        return b
    }

    func string(_ key: String) throws(RPCError) -> String {
        guard let v = value[key] else { throw .invalidParams("missing \"\(key)\"") }
        guard case let .string(s) = v else { throw .invalidParams("\"\(key)\" must be a string, got \(v.typeName)") }
        return s
    }

    func numbers(_ key: String) throws(RPCError) -> [Double] {
        guard let v = value[key] else { throw .invalidParams("missing \"\(key)\"") }
        guard case let .array(a) = v else { throw .invalidParams("\"\(key)\" must be an array of numbers, got \(v.typeName)") }
        var out: [Double] = []
        for (i, x) in a.enumerated() {
            guard let n = x.doubleValue else { throw .invalidParams("\"\(key)\"[\(i)] must be a number, got \(x.typeName)") }
            out.append(n)
        }
        return out
    }
}
