import ControlProtocol
import ControlSocket
import Foundation
import Glibc
import Testing

/// The socket under load (issue 17): coalesced writes keep lines and order, a subscriber that
/// never reads costs neither the others nor the daemon's memory, and `bench socket` measures from
/// processes of its own.
@Suite struct SocketLoadTests {
    /// Many requests in one write: every reply is one JSON object on its own line, in request
    /// order, with telemetry lines between them whole.
    @Test func pipelinedRequestsGetWholeLinesInOrder() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        #expect(try c.result("telemetry.subscribe", ["rate_hz": 500])["rate_hz"] as? Int == 500)
        let methods = ["status", "hello", "timing", "no.such.method", "config.get"]
        var batch = ""
        for id in 1 ... 200 {
            batch += id % 17 == 0 ? "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"status\",\"params\":{\"bad\":1}}\n"
                : "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"\(methods[id % methods.count])\"}\n"
        }
        try c.sendRaw(batch)
        var ids: [Int] = []
        var notifications = 0
        while ids.count < 200, let line = c.readLine(timeout: 10) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not one JSON object: \(line.prefix(200))")
            if object?["method"] as? String == "telemetry" {
                notifications += 1
                continue
            }
            let id = try #require(object?["id"] as? Int, "\(line.prefix(200))")
            ids.append(id)
            let failed = object?["error"] != nil
            #expect(failed == (id % 17 == 0 || id % methods.count == 3), "id \(id): \(line.prefix(200))")
        }
        #expect(ids == Array(1 ... 200), "replies in request order")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// A subscriber that never reads: its samples are dropped once its send buffer is full (the
    /// bytes queued for it stay bounded), while another subscriber keeps its rate and its replies.
    @Test func aStuckSubscriberNeitherBlocksOthersNorGrowsMemory() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        // A raw connection that subscribes and then never reads.
        let address = try UnixSocketAddress(path: daemon.socketPath)
        let stuck = UnixSocketAddress.streamSocket()
        try #require(stuck >= 0 && address.connect(stuck) == 0)
        defer { close(stuck) }
        let subscribe = Array("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"telemetry.subscribe\",\"params\":{\"rate_hz\":500}}\n".utf8)
        #expect(write(stuck, subscribe, subscribe.count) == subscribe.count)
        let reader = try daemon.connect()
        #expect(try reader.result("telemetry.subscribe", ["rate_hz": 100])["rate_hz"] as? Int == 100)

        // 3 s at 500 Hz × ~600 bytes is ~900 kB for the stuck one: more than the server's 256 KiB
        // high-water mark plus the socket buffers.
        var samples = 0, replies = 0
        let end = Date().addingTimeInterval(3)
        var nextStatus = Date()
        while Date() < end {
            if Date() >= nextStatus {
                _ = try reader.request("status")
                nextStatus = Date().addingTimeInterval(0.05)
            }
            guard let line = reader.readLine(timeout: 0.05) else { continue }
            if line.contains("\"method\":\"telemetry\"") {
                samples += 1
                #expect(line.contains("\"dropped\":0,"), "the reader drops nothing")
            } else {
                replies += 1
            }
        }
        #expect(samples >= 150, "\(samples) samples in 3 s at 100 Hz while another subscriber is stuck")
        #expect(replies >= 30, "\(replies) status replies in 3 s")

        // What the stuck subscriber finds queued is bounded, and the stream then tells it what it lost.
        var queued = 0, droppedSeen = 0
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var pfd = pollfd(fd: stuck, events: Int16(POLLIN), revents: 0)
        reading: while droppedSeen == 0, poll(&pfd, 1, 2000) > 0 {
            let n = read(stuck, &buffer, buffer.count)
            guard n > 0 else { break }
            queued += n
            pending += buffer[0 ..< n]
            while let newline = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if let range = line.range(of: "\"dropped\":"), let k = Int(line[range.upperBound...].prefix { $0.isNumber }), k > 0 {
                    droppedSeen = k
                    break reading
                }
            }
        }
        #expect(droppedSeen > 0, "samples skipped while the connection was full are counted in `dropped`")
        #expect(queued < 2 * 1024 * 1024, "\(queued) bytes were queued for a subscriber that never read")
        reader.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// `bench socket` against a running daemon: the probe and the load are processes of their own,
    /// and the report has every documented figure.
    @Test func benchSocketMeasuresFromSeparateProcesses() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let run = try TestSupport.run(TestSupport.robotdPath, ["bench", "socket", "--socket", daemon.socketPath, "--clients", "4",
                                                               "--seconds", "1", "--telemetry-hz", "50", "--request-hz", "20", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        #expect(report["load_clients"] as? Int == 3)
        for key in ["status_rtt_us", "status_rtt_us_unloaded"] {
            let q = try #require(report[key] as? [String: Any], "\(key): \(report)")
            for p in ["p50", "p90", "p99", "max"] { #expect(q[p] is NSNumber, "\(key).\(p)") }
            #expect((q["count"] as? Int ?? 0) > 50, "\(key): \(q)")
        }
        let load = try #require(report["load"] as? [String: Any], "\(report)")
        #expect(load["errors"] as? Int == 0, "\(load)")
        #expect((load["requests"] as? Int ?? 0) > 0, "\(load)")
        let delivered = load["telemetry_delivered"] as? Int ?? 0, expected = load["telemetry_expected"] as? Int ?? 0
        #expect(expected > 0 && delivered > expected / 2, "\(load)")
        #expect(report["overruns_during"] is NSNumber && report["overruns_without_load"] is NSNumber, "\(report)")
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }
}
