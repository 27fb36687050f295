import EventLog
import Foundation
import SQLite
import TestSupport
import Testing

/// These tests drive real processes: `clowdr-testkit append-worker` (a writer that prints the ids of each batch
/// once committed) and the `clowdr` binary. `make test` builds both before running the tests.
@Suite("Several writer processes, and writers killed with SIGKILL", .serialized)
struct ConcurrencyTests {
    static let worker = TestSupport.binary("clowdr-testkit")
    static let clowdr = TestSupport.binary("clowdr")

    @Test(
        "8 processes x 10,000 events appended at once give 80,000 rows, gapless seq, no error",
        .enabled(if: worker != nil, "build clowdr-testkit first (swift build)"))
    func eightWriters() throws {
        let dir = try TestSupport.temporaryDirectory("concurrent")
        let path = dir + "/clowdr.db"
        _ = try EventLog(path: path, mode: .create)  // created once; the workers race on appends, not on creation
        let processes = try (1...8).map { k -> (Process, Pipe, Pipe) in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.worker!)
            p.arguments = ["append-worker", "--log", path, "--stream", String(k), "--events", "10000", "--batch", "100"]
            let out = Pipe()
            let err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            return (p, out, err)
        }
        var acked = 0
        for (p, out, err) in processes {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "worker failed: \(errors)")
            #expect(errors.isEmpty, "\(errors)")
            #expect(text.hasSuffix("DONE\n"))
            acked += text.split(separator: "\n").filter { $0.hasPrefix("ACK ") }.reduce(0) { $0 + $1.split(separator: " ").count - 1 }
        }
        #expect(acked == 80_000)
        let log = try EventLog(path: path, mode: .readOnly)
        let report = try log.fsck()
        #expect(report.eventCount == 80_000)
        #expect(report.maxSeq == 80_000)
        #expect(report.ok, "\(report.problems.prefix(5))")
        let db = try Connection(path: path, mode: .readOnly)
        #expect(try db.scalar("SELECT count(DISTINCT id) FROM events") == .integer(80_000))
        #expect(try db.scalar("SELECT count(*) FROM tasks") == .integer(8 * 910))  // 10,000 / 11 events per task, rounded up
    }

    @Test(
        "a writer killed with SIGKILL mid-batch, 20 times, leaves a log that passes fsck with every acknowledged event",
        .enabled(if: worker != nil && clowdr != nil, "build clowdr and clowdr-testkit first (swift build)"))
    func killNine() throws {
        let dir = try TestSupport.temporaryDirectory("kill9")
        let path = dir + "/clowdr.db"
        var acknowledged: [String] = []
        var rng = SystemRandomNumberGenerator()
        for round in 1...20 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.worker!)
            p.arguments = [
                "append-worker", "--log", path, "--stream", String(round), "--events", "50000", "--batch",
                String(Int.random(in: 1...200, using: &rng)),
            ]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Wait for a few acknowledged batches, then kill at a random moment, most likely inside a transaction.
            let wanted = Int.random(in: 1...20, using: &rng)
            var buffer = ""
            var acks = 0
            let handle = out.fileHandleForReading
            while acks < wanted {
                let data = handle.availableData
                if data.isEmpty { break }
                buffer += String(decoding: data, as: UTF8.self)
                acks = buffer.split(separator: "\n").filter { $0.hasPrefix("ACK ") }.count
            }
            usleep(UInt32.random(in: 0...20_000, using: &rng))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            #expect(p.terminationReason == .uncaughtSignal)
            buffer += String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            // Only complete lines count: a line cut by the kill was never fully acknowledged.
            let lines = buffer.hasSuffix("\n") ? buffer.split(separator: "\n") : buffer.split(separator: "\n").dropLast()
            for line in lines where line.hasPrefix("ACK ") { acknowledged += line.split(separator: " ").dropFirst().map(String.init) }

            let fsck = try TestSupport.run(Self.clowdr!, ["fsck", path])
            #expect(fsck.status == 0, "round \(round): \(fsck.stdout) \(fsck.stderr)")
        }
        let db = try Connection(path: path, mode: .readOnly)
        let present = Set(try db.rows("SELECT id FROM events").compactMap { $0[0].string })
        let missing = acknowledged.filter { !present.contains($0) }
        #expect(acknowledged.count > 20)
        #expect(missing.isEmpty, "\(missing.count) acknowledged events missing")
        let report = try EventLog(path: path, mode: .readOnly).fsck()
        #expect(report.ok && report.gapless)
    }
}
