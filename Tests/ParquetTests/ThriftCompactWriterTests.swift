@testable import Parquet
import Testing

/// The compact protocol byte for byte, against apache/thrift doc/specs/thrift-compact-protocol.md.
@Suite struct ThriftCompactWriterTests {
    private func bytes(_ body: (inout ThriftCompactWriter) -> Void) -> [UInt8] {
        var w = ThriftCompactWriter()
        body(&w)
        return w.bytes
    }

    static let varints: [(UInt64, [UInt8])] = [
        (0, [0x00]), (1, [0x01]), (127, [0x7F]), (128, [0x80, 0x01]), (300, [0xAC, 0x02]),
        (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01]),
        (UInt64(UInt32.max), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
        (UInt64.max, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
    ]

    @Test(arguments: varints)
    func varintIsULEB128(_ value: UInt64, _ expected: [UInt8]) {
        #expect(bytes { $0.writeVarint(value) } == expected)
    }

    static let zigzags: [(Int64, UInt64)] = [
        (0, 0), (-1, 1), (1, 2), (-2, 3), (2, 4), (63, 126), (-64, 127),
        (Int64(Int32.max), 0xFFFF_FFFE), (Int64(Int32.min), 0xFFFF_FFFF),
        (Int64.max, UInt64.max - 1), (Int64.min, UInt64.max),
    ]

    @Test(arguments: zigzags)
    func zigzagInterleavesSigns(_ value: Int64, _ expected: UInt64) {
        #expect(ThriftCompactWriter.zigzag(value) == expected)
    }

    @Test func i32AndI64AreZigzagVarints() {
        #expect(bytes { $0.writeI32(-1) } == [0x01])
        #expect(bytes { $0.writeI32(Int32.min) } == [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        #expect(bytes { $0.writeI64(150) } == [0xAC, 0x02])
    }

    @Test func shortFieldHeadersCarryTheIDDelta() {
        let encoded = bytes { w in
            w.writeStruct { s in
                s.writeI32Field(1, 1)  // delta 1, i32 (5)
                s.writeI64Field(5, -3)  // delta 4, i64 (6)
                s.writeStringField(20, "ab")  // delta 15: still one byte, binary (8)
            }
        }
        #expect(encoded == [0x15, 0x02, 0x46, 0x05, 0xF8, 0x02, 0x61, 0x62, 0x00])
    }

    @Test func deltasAbove15UseTheLongFormWithAZigzagI16ID() {
        let encoded = bytes { w in
            w.writeStruct { s in
                s.writeI32Field(16, 7)  // delta 16 from 0
                s.writeI32Field(17, 7)  // delta 1 again
                s.writeI64Field(300, 1)  // delta 283
            }
        }
        #expect(encoded == [0x05, 0x20, 0x0E, 0x15, 0x0E, 0x06, 0xD8, 0x04, 0x02, 0x00])
    }

    @Test func nestedStructsRestartTheDeltaAndRestoreItAfterwards() {
        let encoded = bytes { w in
            w.writeStruct { s in
                s.writeI32Field(2, 0)
                s.writeStructField(5) { inner in inner.writeI32Field(1, 1) }  // inner delta from 0
                s.writeI32Field(6, 1)  // outer delta from 5
            }
        }
        #expect(encoded == [0x25, 0x00, 0x3C, 0x15, 0x02, 0x00, 0x15, 0x02, 0x00])
    }

    static let listHeaders: [(Int, [UInt8])] = [(0, [0x05]), (1, [0x15]), (14, [0xE5]), (15, [0xF5, 0x0F]), (16, [0xF5, 0x10]), (300, [0xF5, 0xAC, 0x02])]

    @Test(arguments: listHeaders)
    func listHeadersSwitchToAVarintCountAt15(_ count: Int, _ expected: [UInt8]) {
        #expect(bytes { $0.writeListHeader(.i32, count: count) } == expected)
    }

    @Test func listOfStructsHasNoFieldHeadersAndEachElementRestartsTheDelta() {
        let encoded = bytes { w in
            w.writeStruct { s in
                s.writeListFieldHeader(3, .struct, count: 2)
                for v: Int32 in [1, 2] { s.writeStruct { e in e.writeI32Field(2, v) } }
                s.writeI32Field(4, 0)  // delta 1 from the list's id
            }
        }
        #expect(encoded == [0x39, 0x2C, 0x25, 0x02, 0x00, 0x25, 0x04, 0x00, 0x15, 0x00, 0x00])
    }

    @Test func stringsAreVarintLengthThenUTF8() {
        #expect(bytes { $0.writeString("") } == [0x00])
        #expect(bytes { $0.writeString("é") } == [0x02, 0xC3, 0xA9])
        let long = String(repeating: "x", count: 200)
        #expect(bytes { $0.writeString(long) } == [0xC8, 0x01] + [UInt8](repeating: 0x78, count: 200))
    }
}
