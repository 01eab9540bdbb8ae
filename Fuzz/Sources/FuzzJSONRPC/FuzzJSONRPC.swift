import ControlProtocol

/// One input is one request line as the socket hands it to the decoder. Printing a parsed value
/// must be a fixed point: what the reply path serialises (ids, echoed params) re-parses to text
/// that prints the same. (Not `parse(print(v)) == v`: `1.0` prints as `1`, an integer.)
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    if case let .success(request) = RPCRequest.decode(bytes, lineNumber: 1) {
        _ = request.params.serializedBytes
        // The typed params decoders see exactly what the server hands them.
        let params = Params(request.params, method: request.method)
        _ = try? TargetSetParams(params)
        _ = try? FileParams(params)
        _ = try? MoveParams(params)
    }
    if let value = try? JSONValue.parse(bytes) {
        let printed = value.serializedBytes
        guard let again = try? JSONValue.parse(printed), again.serializedBytes == printed else {
            fatalError("printing is not a fixed point: \(String(decoding: printed, as: UTF8.self))")
        }
    }
    return 0
}
