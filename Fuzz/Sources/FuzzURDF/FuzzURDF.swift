import RigidBody

/// One input is one URDF file: XML syntax, URDF checks, then the kinematic tree a valid file
/// builds (the tree walk and the mass checks).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    _ = try? XMLDocument(parsing: bytes)
    if let robot = try? URDFParser.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.urdf") {
        _ = try? RobotModel(urdf: robot)
    }
    return 0
}
