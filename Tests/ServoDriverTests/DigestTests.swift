import Digest
import Foundation
import TestProcess
import Testing

/// SHA-256 against FIPS 180-4's examples (NIST CSRC "SHA256.pdf") and Python's hashlib on
/// random messages of every length around the block boundaries.
@Suite struct DigestTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func nistVectors(_ message: String, _ digest: String) {
        #expect(SHA256.hexHash(Array(message.utf8)) == digest)
    }

    @Test func aMillionAs() {
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(Hex.encode(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func matchesHashlibOnRandomMessagesWholeAndInPieces() throws {
        var generator = SystemRandomNumberGenerator()
        let lengths = Array(0...130) + [183, 255, 256, 257, 1000, 4095, 4096, 4097]
        let messages = lengths.map { n in (0..<n).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        let input = messages.map(Hex.encode).joined(separator: "\n") + "\n"
        let run = try ChildProcess.python("Tests/oracles/sha256_oracle.py", stdin: Data(input.utf8))
        try #require(run.status == 0, "\(run.stderr)")
        let expected = run.stdout.split(separator: "\n").map(String.init)
        try #require(expected.count == messages.count)
        for (m, want) in zip(messages, expected) {
            #expect(SHA256.hexHash(m) == want, "length \(m.count)")
            // The same message fed in uneven pieces.
            var hasher = SHA256()
            var i = 0, step = 1
            while i < m.count {
                let end = min(m.count, i + step)
                hasher.update(Array(m[i..<end]))
                i = end
                step = step * 3 % 97 + 1
            }
            #expect(Hex.encode(hasher.finalize()) == want, "length \(m.count) in pieces")
        }
    }
}
