import RobotdConfig

/// One input is one daemon configuration file (YAML), decoded strictly as `robotd check-config`
/// does, without touching the file system for `robot.urdf`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    do {
        _ = try ConfigLoader.parse(text, file: "fuzz.yaml", baseDirectory: nil)
    } catch {
        _ = error.description
    }
    return 0
}
