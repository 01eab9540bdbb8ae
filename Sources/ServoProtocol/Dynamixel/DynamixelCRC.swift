/// CRC-16 of Dynamixel Protocol 2.0: polynomial 0x8005, initial value 0, MSB first (not
/// reflected), no final XOR (CRC-16/BUYPASS). Check value: "123456789" → 0xFEE8. The packet CRC
/// covers every byte from the first header byte to the last parameter, after byte stuffing,
/// and is sent little-endian.
///
///   crc ← (crc ≪ 8) ⊕ table[((crc ≫ 8) ⊕ byte) & 0xFF]
public enum DynamixelCRC {
    /// The 256-entry table of `protocol2_packet_handler.py::updateCRC`; entry i is the CRC of the
    /// single byte i (0x0000, 0x8005, 0x800F, 0x000A, …).
    public static let table: [UInt16] = (0..<256).map { i in
        var crc = UInt16(i) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x8005 : crc << 1 }
        return crc
    }

    /// Folds `bytes` into `crc` (start from 0 for a whole packet).
    @inlinable
    public static func update(_ crc: UInt16, _ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc = crc
        table.withUnsafeBufferPointer { t in
            for b in bytes { crc = (crc << 8) ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)] }
        }
        return crc
    }

    /// Folds `buffer[range]` into `crc`.
    @inlinable
    public static func update(_ crc: UInt16, _ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt16 {
        var crc = crc
        table.withUnsafeBufferPointer { t in
            for i in range { crc = (crc << 8) ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ buffer[i])] }
        }
        return crc
    }

    /// The CRC of `bytes` from an initial 0.
    @inlinable
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt16 { update(0, bytes) }
}
