/// An instruction packet's parameters interpreted by instruction (what a servo executes).
public enum DynamixelCommand: Hashable, Sendable {
    case ping
    case read(address: UInt16, length: UInt16)
    case write(address: UInt16, data: [UInt8])
    case regWrite(address: UInt16, data: [UInt8])
    case action
    case factoryReset(option: UInt8)
    case reboot
    case clear(parameters: [UInt8])
    case syncRead(address: UInt16, length: UInt16, ids: [UInt8])
    case fastSyncRead(address: UInt16, length: UInt16, ids: [UInt8])
    /// `data[i]` goes to `ids[i]`.
    case syncWrite(address: UInt16, length: UInt16, ids: [UInt8], data: [[UInt8]])
    case bulkRead([DynamixelBulkReadEntry])
    case fastBulkRead([DynamixelBulkReadEntry])
    case bulkWrite([DynamixelBulkWriteEntry])

    /// Interprets `packet.parameters`; throws `malformedParameters` when their count does not fit
    /// the instruction and `unknownInstruction` for a code it does not know.
    public init(_ packet: DynamixelInstructionPacket) throws(DynamixelDecodeError) {
        let p = packet.parameters
        let inst = packet.instruction
        func u16(_ i: Int) -> UInt16 { UInt16(p[i]) | UInt16(p[i + 1]) << 8 }
        switch inst {
        case .ping, .action, .reboot:
            guard p.isEmpty else { throw .malformedParameters(inst) }
            self = inst == .ping ? .ping : inst == .action ? .action : .reboot
        case .read:
            guard p.count == 4 else { throw .malformedParameters(inst) }
            self = .read(address: u16(0), length: u16(2))
        case .write, .regWrite:
            guard p.count >= 3 else { throw .malformedParameters(inst) }
            self = inst == .write ? .write(address: u16(0), data: Array(p[2...]))
                : .regWrite(address: u16(0), data: Array(p[2...]))
        case .factoryReset:
            guard p.count == 1 else { throw .malformedParameters(inst) }
            self = .factoryReset(option: p[0])
        case .clear:
            self = .clear(parameters: p)
        case .syncRead, .fastSyncRead:
            guard p.count >= 5 else { throw .malformedParameters(inst) }
            let ids = Array(p[4...])
            self = inst == .syncRead ? .syncRead(address: u16(0), length: u16(2), ids: ids)
                : .fastSyncRead(address: u16(0), length: u16(2), ids: ids)
        case .syncWrite:
            guard p.count >= 4 else { throw .malformedParameters(inst) }
            let n = Int(u16(2))
            let body = p.count - 4
            guard n > 0, body > 0, body % (n + 1) == 0 else { throw .malformedParameters(inst) }
            var ids: [UInt8] = [], data: [[UInt8]] = []
            var i = 4
            while i < p.count {
                ids.append(p[i]); data.append(Array(p[(i + 1)..<(i + 1 + n)]))
                i += n + 1
            }
            self = .syncWrite(address: u16(0), length: UInt16(n), ids: ids, data: data)
        case .bulkRead, .fastBulkRead:
            guard !p.isEmpty, p.count % 5 == 0 else { throw .malformedParameters(inst) }
            var entries: [DynamixelBulkReadEntry] = []
            for i in stride(from: 0, to: p.count, by: 5) {
                entries.append(DynamixelBulkReadEntry(id: p[i], address: u16(i + 1), length: u16(i + 3)))
            }
            self = inst == .bulkRead ? .bulkRead(entries) : .fastBulkRead(entries)
        case .bulkWrite:
            var entries: [DynamixelBulkWriteEntry] = []
            var i = 0
            while i < p.count {
                guard i + 5 <= p.count else { throw .malformedParameters(inst) }
                let n = Int(u16(i + 3))
                guard i + 5 + n <= p.count else { throw .malformedParameters(inst) }
                entries.append(DynamixelBulkWriteEntry(id: p[i], address: u16(i + 1), data: Array(p[(i + 5)..<(i + 5 + n)])))
                i += 5 + n
            }
            guard !entries.isEmpty else { throw .malformedParameters(inst) }
            self = .bulkWrite(entries)
        default:
            throw .unknownInstruction(inst.rawValue)
        }
    }
}
