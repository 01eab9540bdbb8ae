import LinearAlgebra
import Testing

@Suite struct SplitMix64Tests {
    /// The reference implementation's outputs (Vigna's splitmix64.c; Rosetta Code's "Pseudo-random
    /// numbers/Splitmix64" lists the seed-1234567 sequence).
    @Test func firstOutputsMatchThePublishedSequence() {
        var a = SplitMix64(seed: 1_234_567)
        #expect((0 ..< 5).map { _ in a.next() } == [
            6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
            4_593_380_528_125_082_431, 16_408_922_859_458_223_821,
        ])
        var b = SplitMix64(seed: 0)
        #expect((0 ..< 3).map { _ in b.next() } == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    @Test func unitDrawsStayInTheirIntervals() {
        var rng = SplitMix64(seed: 3)
        for _ in 0 ..< 10_000 {
            let u = rng.nextUnit(), o = rng.nextOpenUnit()
            #expect(u >= 0 && u < 1)
            #expect(o > 0 && o < 1)
        }
    }

    /// As a `RandomNumberGenerator` it feeds the standard library's draws deterministically.
    @Test func drivesStandardLibraryDraws() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
        #expect((0 ..< 8).map { _ in Double.random(in: -1 ... 1, using: &a) } == (0 ..< 8).map { _ in Double.random(in: -1 ... 1, using: &b) })
    }
}
