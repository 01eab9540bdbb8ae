import ModelFiles

/// One input is one safetensors file: the container, then the MLP and ensemble readers on top.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let file = try? SafeTensors.decode(bytes, name: "fuzz.safetensors") else { return 0 }
    for tensor in file.tensors.values { _ = tensor.floats }
    _ = try? MLPFile.mlp(from: file, name: "fuzz.safetensors")
    return 0
}
