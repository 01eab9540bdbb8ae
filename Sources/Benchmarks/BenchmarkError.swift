/// A benchmark's input was unusable (a problem file, a network shape); the message names what
/// and where. The command reports it as a usage error.
public struct BenchmarkError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
