import ControlRuntime
import Foundation
import Testing

@Suite struct LatencyHistogramTests {
    /// Quantiles against the exact order statistics of the same samples: within the 1/32
    /// bucket width (plus one ns for the exact-width region).
    @Test func quantilesMatchSortedSamples() {
        var h = LatencyHistogram()
        var rng = SystemRandomNumberGenerator()
        var samples: [UInt64] = []
        for _ in 0 ..< 50_000 {
            // Log-uniform from 10 ns to 10 ms: exercises every octave.
            let x = UInt64(pow(10, Double.random(in: 1 ... 7, using: &rng)))
            samples.append(x)
            h.record(x)
        }
        samples.sort()
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = Double(samples[Int((q * Double(samples.count)).rounded(.up)) - 1])
            let estimate = Double(h.value(atQuantile: q))
            #expect(abs(estimate - exact) <= exact / 32 + 1, "p\(q * 100): \(estimate) vs \(exact)")
        }
        #expect(h.value(atQuantile: 1) == samples.last)
        #expect(h.max == samples.last && h.min == samples.first && h.total == 50_000)
        let mean = Double(samples.reduce(0, +)) / Double(samples.count)
        #expect(abs(h.mean - mean) / mean < 1e-9)
    }

    /// Merging two histograms is recording both sample sets into one (the loop benchmark
    /// merges its alternating rounds); an empty side changes nothing.
    @Test func mergeEqualsRecordingBothSampleSets() {
        var a = LatencyHistogram(), b = LatencyHistogram(), both = LatencyHistogram()
        for k in 0 ..< 3000 {
            let x = UInt64(17 &+ (k &* 7919) % 2_000_000)
            if k % 3 == 0 { a.record(x) } else { b.record(x) }
            both.record(x)
        }
        var merged = a
        merged.merge(b)
        #expect(merged.total == both.total && merged.max == both.max && merged.min == both.min)
        #expect(abs(merged.mean - both.mean) <= 1e-9 * both.mean)
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1] {
            #expect(merged.value(atQuantile: q) == both.value(atQuantile: q))
        }
        #expect(merged.count(atLeast: 1_000_000) == both.count(atLeast: 1_000_000))
        var unchanged = a
        unchanged.merge(LatencyHistogram())
        #expect(unchanged.min == a.min && unchanged.max == a.max && unchanged.total == a.total)
        var fromEmpty = LatencyHistogram()
        fromEmpty.merge(a)
        #expect(fromEmpty.min == a.min && fromEmpty.value(atQuantile: 0.5) == a.value(atQuantile: 0.5))
    }

    @Test func emptyHistogramReportsZero() {
        #expect(LatencyHistogram().value(atQuantile: 0.99) == 0)
    }
}

@Suite struct SPSCRingTests {
    /// A producer thread pushes 0, 1, 2, …; the consumer must see exactly that sequence, with
    /// refused pushes retried, so nothing is lost, duplicated or reordered.
    @Test func concurrentProducerAndConsumerPreserveOrder() async {
        let ring = SPSCRing<Int>(capacity: 64, initial: 0)
        let n = 200_000
        let producer = Thread {
            var i = 0
            while i < n { if ring.push(i) { i += 1 } }
        }
        producer.start()
        var expected = 0
        while expected < n {
            if let x = ring.pop() {
                #expect(x == expected)
                if x != expected { return }
                expected += 1
            }
        }
        #expect(ring.pop() == nil)
    }

    @Test func fullRingRefusesAndCountsDrops() {
        let ring = SPSCRing<Int>(capacity: 3, initial: 0)
        #expect(ring.capacity == 4)
        for i in 0 ..< 4 { #expect(ring.push(i)) }
        #expect(!ring.push(99))
        #expect(ring.droppedCount == 1)
        #expect(ring.pop() == 0)
        #expect(ring.push(4))
        #expect((0 ..< 4).compactMap { _ in ring.pop() } == [1, 2, 3, 4])
    }
}

@Suite struct SeqLockTests {
    struct Pair: BitwiseCopyable { var a: UInt64; var b: UInt64 }

    /// The writer always stores a == b; a torn read would show a ≠ b.
    @Test func readersNeverSeeTornValues() {
        let lock = SeqLock(Pair(a: 0, b: 0))
        let done = ManagedAtomicFlag()
        let writer = Thread {
            var i: UInt64 = 0
            while !done.isSet {
                i &+= 1
                lock.write(Pair(a: i, b: i))
            }
        }
        writer.start()
        var last: UInt64 = 0
        for _ in 0 ..< 200_000 {
            let p = lock.read()
            #expect(p.a == p.b)
            #expect(p.a >= last, "values only move forward")
            last = p.a
        }
        done.set()
    }
}

/// A tiny thread-safe flag for stopping test threads.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
