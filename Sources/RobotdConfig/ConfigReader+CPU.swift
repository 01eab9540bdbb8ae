import CLinuxRT
import Glibc

extension ConfigReader {
    /// A CPU number for pinning a thread: within `cpu_set_t` (CPU_SETSIZE, 1024), and with
    /// `checksHost` also in this process's affinity mask, where the kernel would let it run.
    mutating func cpu(_ key: String) throws(ConfigError) -> Int? {
        let setSize = Int(CPU_SETSIZE)
        guard let cpu = try optionalInt(key, .atLeast(0)) else { return nil }
        guard cpu < setSize else {
            throw error(.outOfRange, key, at: node(key), "CPU \(cpu) is out of range 0…\(setSize - 1) (CPU_SETSIZE is \(setSize))")
        }
        if checksHost {
            let allowed = Self.allowedCPUs()
            if !allowed.isEmpty, !allowed.contains(cpu) {
                throw error(
                    .invalidValue, key, at: node(key),
                    "CPU \(cpu) is not one this process may run on (allowed: \(allowed.map(String.init).joined(separator: ", ")))")
            }
        }
        return cpu
    }

    /// `cpu(key)`, or `auto` (plain or quoted): the caller then chooses a CPU with
    /// `DaemonConfiguration.Loop.automaticCPU`.
    mutating func cpuOrAuto(_ key: String) throws(ConfigError) -> (cpu: Int?, isAuto: Bool) {
        if let n = node(key), case let .scalar(scalar) = n, scalar.string == "auto" { return (nil, true) }
        if let n = node(key), Self.plainText(n).map({ Self.isDecimalDigits(Self.unsigned($0)) }) != true {
            throw typeError(n, keyPath: keyPath(key), expected: "a CPU number or auto")
        }
        return (try cpu(key), false)
    }

    /// The CPUs in the process's affinity mask (`sched_getaffinity`); empty if it cannot be read.
    static func allowedCPUs() -> [Int] {
        var set = cpu_set_t()
        guard sched_getaffinity(0, MemoryLayout<cpu_set_t>.size, &set) == 0 else { return [] }
        return (0 ..< Int(CPU_SETSIZE)).filter { CLinuxRT_cpuIsSet(Int32($0), &set) != 0 }
    }
}
