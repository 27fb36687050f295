import Foundation
import JSON
import TestSupport
import Testing

@testable import EventLog

/// A finished experiment as Slurm leaves it: 12 tasks planned in the log, submitted by a controller as elements
/// 12_0 ... 12_11 of one array (its segment), each run by its element's worker (`slurm-12_<k>.ndjson`); task 6 failed.
struct SlurmLikeExperiment {
    let dir: String
    let layout: ExperimentLayout
    let log: EventLog
    /// Each worker's lines, by task.
    var workerLines: [Int: [String]] = [:]

    init(tasks: Int = 12, failing: Int = 6, samples: Int = 3) throws {
        dir = try TestSupport.temporaryDirectory("checked")
        layout = ExperimentLayout(directory: dir)
        try FileManager.default.createDirectory(atPath: layout.segments, withIntermediateDirectories: true)
        log = try EventLog(path: layout.log, mode: .create)
        var setup = Script()
        setup.add(
            nil, nil,
            .experimentCreated(
                ExperimentCreated(
                    experiment: "exp", descriptorSHA256: String(repeating: "0", count: 64), invocations: [], backend: "slurm", user: "u", host: "h",
                    clowdrVersion: "0", os: "Linux")))
        for k in 0..<tasks { setup.plan(String(k)) }
        try log.append(setup.events)
        var controller = Script()
        for k in 0..<tasks { controller.add(String(k), 1, .taskSubmitted(TaskSubmitted(backend: "slurm", nativeID: "12_\(k)"))) }
        try Self.write(controller.events, to: layout.controllerSegment("01M8SNGNJE8KJ7VNNTAHB36MV6"), sealed: true)
        for k in 0..<tasks {
            var w = Script()
            w.start(String(k), 1)
            for i in 1...samples { w.sample(String(k), 1, rss: Int64(i) << 20) }
            w.exit(String(k), 1, code: k == failing ? 3 : 0)
            workerLines[k] = try w.events.map { try $0.raw().ndjsonLine }
            try Self.write(w.events, to: layout.segments + "/slurm-12_\(k).ndjson", sealed: true)
        }
    }

    static func write(_ events: [Event], to path: String, sealed: Bool) throws {
        let writer = try SegmentWriter(path: path)
        try writer.append(events)
        if sealed { try writer.seal() }
    }

    /// A segment of `lines` (a newline after each) named `name`.
    func segment(_ name: String, _ lines: [String]) throws {
        try lines.map { $0 + "\n" }.joined().write(toFile: layout.segments + "/" + name, atomically: true, encoding: .utf8)
    }

    /// One event as a segment line, with the script's ids and times.
    static func line(_ task: String?, _ attempt: Int?, _ body: EventBody) throws -> String {
        var s = Script()
        s.add(task, attempt, body)
        return try s.events[0].raw().ndjsonLine
    }

    /// The tasks' states, by task.
    func states() throws -> [String: TaskState] { try log.projectedTasks().mapValues(\.state) }
}

@Suite("Segment lines are checked before they become part of the log")
struct SegmentCheckTests {
    @Test("a well-formed experiment goes in whole: 12 tasks, task 6 failed, nothing refused")
    func wellFormed() throws {
        let e = try SlurmLikeExperiment()
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        let report = try e.log.ingestNewSegments(in: e.layout.segments)
        #expect(report.refused.isEmpty && report.inserted == 12 + 12 * 5, "\(report)")
        #expect(try e.states().count == 12 && e.states()["6"] == .failed)
        #expect(try e.log.fsck().ok && e.log.fsck().wouldRefuseCount == 0)
    }

    @Test(
        "a Slurm element's segment, sealed and read to its end, is removed once its events are committed; an open one, an AWS Batch copy, a controller's and one given by hand are kept; a look that found a removed one goes on"
    )
    func sealedSegmentsRemoved() throws {
        let e = try SlurmLikeExperiment()
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        let stale = try e.log.look(at: e.layout.segments)  // a reader that looked before the others ingest
        try FileManager.default.copyItem(atPath: e.layout.segments + "/slurm-12_11.ndjson", toPath: e.dir + "/by-hand.ndjson")
        // Element 12_11 still writing (not sealed); an AWS Batch segment fetched from S3.
        chmod(e.layout.segments + "/slurm-12_11.ndjson", 0o644)
        try FileManager.default.moveItem(atPath: e.layout.segments + "/slurm-12_10.ndjson", toPath: e.layout.segments + "/batch-12_10.ndjson")
        let report = try e.log.ingestNewSegments(in: e.layout.segments)
        #expect(report.refused.isEmpty, "\(report.refused)")
        let left = try FileManager.default.contentsOfDirectory(atPath: e.layout.segments).sorted()
        #expect(left.count == 3 && left[0] == "batch-12_10.ndjson" && left[1].hasPrefix("controller-") && left[2] == "slurm-12_11.ndjson", "\(left)")
        #expect(try e.states().count == 12 && e.log.fsck().ok)
        // The stale look names removed segments: its ingest reads what is left, and fails on nothing.
        _ = try e.log.ingest(stale)
        #expect(try e.states().count == 12 && e.log.fsck().ok)
        // Given by hand, a segment is never removed.
        _ = try e.log.ingest(segmentAt: e.dir + "/by-hand.ndjson")
        #expect(FileManager.default.fileExists(atPath: e.dir + "/by-hand.ndjson"))
        // Sealed at last: removed by the next ingest. A requeued element writing again gets a new file.
        chmod(e.layout.segments + "/slurm-12_11.ndjson", 0o444)
        _ = try e.log.ingestNewSegments(in: e.layout.segments)
        #expect(!FileManager.default.fileExists(atPath: e.layout.segments + "/slurm-12_11.ndjson"))
        _ = try SegmentWriter(path: e.layout.segments + "/slurm-12_11.ndjson")
        _ = try e.log.ingestNewSegments(in: e.layout.segments)
        #expect(FileManager.default.fileExists(atPath: e.layout.segments + "/slurm-12_11.ndjson"), "an open segment is kept")
    }

    /// Ingests the experiment, then `lines` as a segment named `name`; returns the refusals.
    func refusals(_ name: String, _ lines: (SlurmLikeExperiment) throws -> [String]) throws -> (SlurmLikeExperiment, [SegmentRefused]) {
        let e = try SlurmLikeExperiment()
        _ = try e.log.ingestNewSegments(in: e.layout.segments)
        let before = try e.states()
        try e.segment(name, try lines(e))
        let report = try e.log.ingestNewSegments(in: e.layout.segments)
        #expect(try e.states() == before, "no task changed")
        #expect(try e.log.fsck().ok, "projections equal a replay of what was taken")
        #expect(FileManager.default.fileExists(atPath: e.dir + "/refused/" + name), "the segment kept as it was")
        return (e, report.refused)
    }

    @Test("an exit 0 for an attempt never submitted (task 6 attempt 7) is refused: task 6 stays failed")
    func neverSubmitted() throws {
        let (e, refused) = try refusals("extra.ndjson") { _ in
            [try SlurmLikeExperiment.line("6", 7, .taskExited(TaskExited(exitCode: 0, wallTime: 1, peakRSS: 1)))]
        }
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        #expect(refused.map(\.code) == ["segment.not_submitted"] && refused[0].line == 1 && refused[0].task == "6", "\(refused)")
        #expect(try e.states()["6"] == .failed)
    }

    @Test("a second exit for an attempt that ended is refused (and a segment named after another element than its attempt's)")
    func secondExit() throws {
        let (e, refused) = try refusals("node7-4242.ndjson") { _ in
            [try SlurmLikeExperiment.line("6", 1, .taskExited(TaskExited(exitCode: 0, wallTime: 1, peakRSS: 1)))]
        }
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        #expect(refused.map(\.code) == ["segment.second_final"], "\(refused)")
        let (f, misnamed) = try refusals("slurm-12_6-again.ndjson") { _ in
            [try SlurmLikeExperiment.line("6", 1, .taskExited(TaskExited(exitCode: 0, wallTime: 1, peakRSS: 1)))]
        }
        defer { try? FileManager.default.removeItem(atPath: f.dir) }
        #expect(misnamed.map(\.code) == ["segment.other_element"], "\(misnamed)")
    }

    @Test("events of a task never planned (999) are refused: the experiment keeps its 12 tasks")
    func neverPlanned() throws {
        let (e, refused) = try refusals("slurm-12_3.ndjson.x.ndjson") { _ in
            [try SlurmLikeExperiment.line("999", 1, .taskStarted(TaskStarted(host: "n", pid: 1)))]
        }
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        #expect(refused.map(\.code) == ["segment.not_planned"], "\(refused)")
        #expect(try e.states().count == 12)
    }

    @Test("a type nobody writes, a newer version (named, with the upgrade), a 20 MB sample and a sample with a field no schema knows")
    func typesVersionsPayloads() throws {
        let (e, refused) = try refusals("w.ndjson") { e in
            let exit = e.workerLines[2]![4]
            let sample = e.workerLines[2]![1]
            return [
                exit.replacingOccurrences(of: #""type":"task_exited""#, with: #""type":"task_hacked""#),
                exit.replacingOccurrences(of: #""version":1"#, with: #""version":99"#),
                sample.replacingOccurrences(of: #""payload":{"#, with: #""payload":{"x":"\#(String(repeating: "a", count: 20 << 20))","#),
                sample.replacingOccurrences(of: #""payload":{"#, with: #""payload":{"gpu":1,"#),
            ]
        }
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        #expect(refused.map(\.code) == ["segment.type", "segment.version_newer", "segment.too_large", "segment.payload"], "\(refused)")
        #expect(refused[1].reason.contains("task_exited v99 was written by a newer clowdr") && refused[1].reason.contains("upgrade clowdr"))
        #expect(refused[3].reason.contains("gpu"), "\(refused[3].reason)")
    }

    @Test("in an element's own segment: another element's attempt, a time decades away, a sample after the attempt's end")
    func otherElementTimeAfterEnd() throws {
        let e = try SlurmLikeExperiment()
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        _ = try e.log.ingestNewSegments(in: e.layout.segments)
        let foreign = try SlurmLikeExperiment.line("4", 1, .taskCancelled(TaskCancelled(reason: "x")))
        let late = try SlurmLikeExperiment.line(
            "3", 1, .sample(Sample(cpuUser: 1, cpuSystem: 0, rss: 1, vms: 0, readBytes: 0, writeBytes: 0, processes: 1, threads: 1))
        )
        .replacingOccurrences(of: #""time":"2027-"#, with: #""time":"2090-"#)
        let after = try SlurmLikeExperiment.line(
            "3", 1, .sample(Sample(cpuUser: 1, cpuSystem: 0, rss: 1, vms: 0, readBytes: 0, writeBytes: 0, processes: 1, threads: 1)))
        try? FileManager.default.removeItem(atPath: e.layout.segments + "/slurm-12_3.ndjson")
        try e.segment("slurm-12_3.ndjson", e.workerLines[3]! + [foreign, late, after])
        let report = try e.log.ingestNewSegments(in: e.layout.segments)
        #expect(report.refused.map(\.code) == ["segment.other_element", "segment.time", "segment.after_final"], "\(report.refused)")
        #expect(report.refused[0].nativeID == "12_3" && report.refused[0].host == "vm" && report.refused[0].line == 6, "\(report.refused)")
        #expect(report.refused[0].reason.contains("submitted as 12_4"), "\(report.refused[0].reason)")
        #expect(try e.log.fsck().ok && e.log.projectedTasks()["3"]?.latest?.samples == 3)
    }

    @Test("a line that is not JSON refuses itself alone: the lines after it are taken, and reading commands answer")
    func notJSON() throws {
        let e = try SlurmLikeExperiment()
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        var lines = e.workerLines[5]!
        lines.insert("this is not JSON", at: 2)
        try? FileManager.default.removeItem(atPath: e.layout.segments + "/slurm-12_5.ndjson")
        try e.segment("slurm-12_5.ndjson", lines)
        let report = try e.log.ingestNewSegments(in: e.layout.segments)
        #expect(report.refused.map(\.code) == ["segment.not_json"] && report.refused[0].line == 3, "\(report.refused)")
        #expect(try e.states()["5"] == .succeeded && e.states().count == 12, "the rest of the segment and of the experiment is in")
        let state = try e.log.projectedState()
        #expect(state.refusedLines.count == 1 && state.refusedLines[0].refusal.kept == "refused/slurm-12_5.ndjson")
        #expect(try e.log.fsck().refusedLines == 1)
    }

    @Test("a torn last line waits for its newline and is taken once complete; a worker's line before its controller's waits too")
    func tornAndEarly() throws {
        let e = try SlurmLikeExperiment(tasks: 2)
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        _ = try e.log.ingestNewSegments(in: e.layout.segments)
        // An open controller (its segment not sealed) submits task 1 attempt 2; its worker's start is seen first.
        let start = try SlurmLikeExperiment.line("1", 2, .taskStarted(TaskStarted(host: "n", pid: 2)))
        try e.segment("slurm-13_0.ndjson", [start])
        let open = try SegmentWriter(path: e.layout.controllerSegment("01M8SNGNJE8KJ7VNNTAHB36MV7"))
        let waited = try e.log.ingestNewSegments(in: e.layout.segments)
        #expect(waited.refused.isEmpty && waited.inserted == 0, "waits for the submission: \(waited)")
        var submit = Script()
        submit.add("1", 2, .taskSubmitted(TaskSubmitted(backend: "slurm", nativeID: "13_0")))
        try open.append(submit.events)
        #expect(try e.log.ingestNewSegments(in: e.layout.segments).inserted == 2)
        #expect(try e.log.projectedTasks()["1"]?.latest?.state == .running)
        // Half a line: waits; the rest: taken.
        var w = Script()
        w.exit("1", 2, code: 0)
        let exit = try w.events[0].raw().ndjsonLine
        let handle = try #require(FileHandle(forWritingAtPath: e.layout.segments + "/slurm-13_0.ndjson"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(exit.prefix(30).utf8))
        #expect(try e.log.ingestNewSegments(in: e.layout.segments) == EventLog.IngestReport(inserted: 0, duplicates: 0, tornLine: nil))
        try handle.write(contentsOf: Data((exit.dropFirst(30) + "\n").utf8))
        try handle.close()
        #expect(try e.log.ingestNewSegments(in: e.layout.segments).inserted == 1)
        #expect(try e.log.projectedTasks()["1"]?.latest?.state == .succeeded && e.log.fsck().ok)
    }

    @Test("an older version this clowdr reads is taken (task_ended v1, without ended_at)")
    func olderVersion() throws {
        let e = try SlurmLikeExperiment(tasks: 1)
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        var s = Script()
        s.add("0", 1, .taskEnded(TaskEnded(backend: "slurm", nativeID: "12_0", state: "FAILED", failureClass: .appError, reason: "r", exitCode: 1)))
        let v1 = try s.events[0].raw().ndjsonLine.replacingOccurrences(of: #""version":2"#, with: #""version":1"#)
        try v1.appending("\n").write(toFile: e.dir + "/old.ndjson", atomically: true, encoding: .utf8)
        let report = try e.log.ingest(segmentAt: e.dir + "/old.ndjson")
        #expect(report.inserted == 1 && report.refused.isEmpty, "\(report)")
    }

    @Test("the schemas ingest checks with are exactly schema/events/*.schema.json (run scripts/embed-schema.sh after editing them)")
    func schemasEmbedded() throws {
        let dir = TestSupport.repositoryRoot + "/schema/events"
        for type in EventType.allCases {
            let file = try String(contentsOfFile: dir + "/\(type.rawValue).schema.json", encoding: .utf8)
            #expect(EventSchemas.texts[type.rawValue] == String(file.dropLast(file.hasSuffix("\n") ? 1 : 0)), "\(type.rawValue)")
            #expect(EventSchemas.validators[type.rawValue] != nil)
        }
    }

    @Test("a sample as clowdr writes it is taken without its schema; any other form goes through the schema")
    func canonicalSamples() throws {
        let written = Sample(cpuUser: 1.25, cpuSystem: 0, rss: 7, vms: 9, readBytes: 0, writeBytes: 3, processes: 1, threads: 2).fastJSON()
        #expect(Sample.isCanonical(written), "\(written)")
        // What it takes is canonical compact JSON: ingest then skips the general check.
        #expect(Array(written.utf8).withUnsafeBufferPointer { CompactJSON.isCanonical($0) })
        for other in [
            written.replacingOccurrences(of: #""rss":7"#, with: #""rss":-7"#), written.replacingOccurrences(of: #""rss":7"#, with: #""rss":7.5"#),
            written.replacingOccurrences(of: #""vms":9,"#, with: ""), written.replacingOccurrences(of: "{", with: #"{"gpu":1,"#),
            written.replacingOccurrences(of: #""cpu_user":1.25"#, with: #""cpu_user":1."#),
            written.replacingOccurrences(of: #""rss":7"#, with: #""rss":07"#),
            written.replacingOccurrences(of: #""cpu_user":1.25"#, with: #""cpu_user":01.25"#),
        ] {
            #expect(!Sample.isCanonical(other), "\(other)")
        }
        #expect(EventSchemas.problem(type: "sample", payload: written) == nil)
        #expect(EventSchemas.problem(type: "sample", payload: written.replacingOccurrences(of: #""rss":7"#, with: #""rss":-7"#)) != nil)
    }

    @Test("fsck reports events a log already holds that ingest would refuse today (a log written before the checks)")
    func fsckAudit() throws {
        let dir = try TestSupport.temporaryDirectory("audit")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        var s = Script()
        s.plan("6")
        s.submit("6", 1)
        s.start("6", 1)
        s.exit("6", 1, code: 3)
        s.exit("6", 7, code: 0)  // an attempt never submitted
        s.sample("6", 1, rss: 1)  // after its attempt's end
        s.start("999", 1)  // a task never planned
        try log.append(s.events)
        let report = try log.fsck()
        #expect(report.ok && report.wouldRefuseCount == 3, "\(report.warnings)")
        #expect(report.warnings.contains { $0.contains("task 6 attempt 7") && $0.contains("never submitted") }, "\(report.warnings)")
        #expect(report.warnings.contains { $0.contains("never planned task 999") })
        #expect(report.warnings.contains { $0.contains("after its attempt's end") })
    }
}

/// A small seeded generator (SplitMix64): a failing round is replayed from the seed it prints.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Segments mutated at random")
struct SegmentMutationTests {
    /// The ways a segment goes wrong in the field: cut (a node died mid-write), bytes broken (a disk, a network file
    /// system), lines written twice or out of order, lines of another element's attempt.
    static func mutate(_ lines: [String], foreign: [String], rng: inout SeededGenerator) -> String {
        var l = lines
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0 where !l.isEmpty: l.insert(l[Int.random(in: 0..<l.count, using: &rng)], at: Int.random(in: 0...l.count, using: &rng))
            case 1 where l.count > 1: l.swapAt(Int.random(in: 0..<l.count, using: &rng), Int.random(in: 0..<l.count, using: &rng))
            case 2: l.insert(foreign.randomElement(using: &rng)!, at: Int.random(in: 0...l.count, using: &rng))
            default:
                guard !l.isEmpty else { continue }
                let k = Int.random(in: 0..<l.count, using: &rng)
                var bytes = Array(l[k].utf8)
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                // A byte no valid line has there: a quote, a NUL, or a newline that cuts the line in two.
                bytes[at] = [UInt8(ascii: "\""), 0, UInt8(ascii: "\n")].randomElement(using: &rng)!
                l[k] = String(decoding: bytes, as: UTF8.self)
            }
        }
        var text = l.map { $0 + "\n" }.joined()
        if Bool.random(using: &rng) { text = String(text.prefix(Int.random(in: 0...text.count, using: &rng))) }
        return text
    }

    @Test(
        "after every ingest of mutated segments: projections equal a replay of what was taken, nothing of a refused line is in the log, every event taken is as its worker wrote it, and reading answers"
    )
    func randomMutations() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SeededGenerator(state: seed)
        var codes: Set<String> = []
        for round in 0..<25 {
            let e = try SlurmLikeExperiment(tasks: 6, failing: 2)
            defer { try? FileManager.default.removeItem(atPath: e.dir) }
            // The controller's segment first, alone; the workers' segments come mutated.
            for k in 0..<6 { try FileManager.default.removeItem(atPath: e.layout.segments + "/slurm-12_\(k).ndjson") }
            _ = try e.log.ingestNewSegments(in: e.layout.segments)
            var written: [String: RawEvent] = [:]
            for var stored in try e.log.events() {
                stored.seq = nil
                written[stored.id] = stored
            }
            for (_, lines) in e.workerLines {
                for line in lines {
                    let raw = try RawEvent(ndjsonLine: line)
                    written[raw.id] = raw
                }
            }
            // Foreign lines: events of other elements' attempts never written by them.
            let foreign = try (0..<6).map { k in
                try SlurmLikeExperiment.line(String(k), 1, .taskCancelled(TaskCancelled(reason: "foreign \(k)")))
            }
            for k in 0..<6 {
                let path = e.layout.segments + "/slurm-12_\(k).ndjson"
                let others = foreign.enumerated().filter { $0.offset != k }.map(\.element)
                let text = Self.mutate(e.workerLines[k]!, foreign: others, rng: &rng)
                // Written in two steps, ingested after each: segments grow while the controller reads them.
                let cut = text.index(text.startIndex, offsetBy: Int.random(in: 0...text.count, using: &rng))
                try String(text[..<cut]).write(toFile: path, atomically: false, encoding: .utf8)
                codes.formUnion(try check(e, written: written, seed: seed, round: round))
                let h = try #require(FileHandle(forWritingAtPath: path))
                try h.seekToEnd()
                try h.write(contentsOf: Data(text[cut...].utf8))
                try h.close()
                codes.formUnion(try check(e, written: written, seed: seed, round: round))
            }
        }
        // The mutations were met by the checks they call for.
        #expect(codes.isSuperset(of: ["segment.not_json", "segment.other_element"]), "seed \(seed): \(codes)")
    }

    /// Ingests, then checks the invariants; returns the codes of the lines refused.
    func check(_ e: SlurmLikeExperiment, written: [String: RawEvent], seed: UInt64, round: Int) throws -> Set<String> {
        let report = try e.log.ingestNewSegments(in: e.layout.segments)
        let fsck = try e.log.fsck()
        #expect(fsck.ok, "seed \(seed) round \(round): \(fsck.problems)")
        for stored in try e.log.events() where stored.type != EventType.segmentRefused.rawValue {
            var s = stored
            s.seq = nil
            #expect(written[s.id] == s, "seed \(seed) round \(round): an event not as written: \(s.ndjsonLine)")
        }
        for r in report.refused where r.code != "segment.not_json" {
            #expect(r.type != nil, "seed \(seed) round \(round): \(r)")
        }
        _ = try e.log.projectedState()
        _ = try e.log.statusSummary(shown: 5)
        _ = try e.log.replay()
        return Set(report.refused.map(\.code))
    }
}

extension SegmentCheckTests {
    @Test(
        "an ingest of several chunks commits each while the next is read: every event in, in its segment's order, the projection equal to a replay; a refused line in a later chunk; a conflict in a middle chunk stops the ingest with the chunks before it committed"
    )
    func chunksCommittedWhileReading() throws {
        // 300 workers of 120 samples: over 10 MB of segments, three chunks at least.
        let e = try SlurmLikeExperiment(tasks: 300, failing: 17, samples: 120)
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        let bytes = try FileManager.default.contentsOfDirectory(atPath: e.layout.segments).reduce(0) {
            $0 + ((try FileManager.default.attributesOfItem(atPath: e.layout.segments + "/" + $1)[.size] as? Int) ?? 0)
        }
        #expect(bytes > 2 * EventLog.ingestChunkBytes, "\(bytes) bytes")
        var lines = e.workerLines[299]!
        lines.insert("not an event", at: 60)
        try? FileManager.default.removeItem(atPath: e.layout.segments + "/slurm-12_299.ndjson")
        try e.segment("slurm-12_299.ndjson", lines)
        let before = try e.log.events().count
        let report = try e.log.ingestNewSegments(in: e.layout.segments)
        let workers = 300 * 122
        #expect(report.inserted == 300 + workers && report.duplicates == 0, "\(report)")
        #expect(report.refused.map(\.code) == ["segment.not_json"] && report.refused[0].line == 61, "\(report.refused)")
        let events = try e.log.events()
        #expect(events.count == before + 300 + workers + 1, "the submissions, the workers' events and one refusal")
        for k in [0, 150, 299] {
            let ids = events.filter { $0.task == String(k) && $0.type != "task_planned" && $0.type != "task_submitted" }.map(\.id)
            #expect(ids == e.workerLines[k]!.map { String($0.dropFirst(7).prefix(26)) }, "task \(k)'s events in its segment's order")
        }
        let projected = try e.log.projectedTasks()
        let replayed = try e.log.replay().tasks
        #expect(projected.count == 300 && projected.keys.allSatisfy { projected[$0]?.state == replayed[$0]?.state })
        #expect(projected.values.allSatisfy { $0.latest?.samples == 120 && $0.latest?.peakRSS == replayed[$0.task]?.latest?.peakRSS })
        #expect(projected["17"]?.state == .failed && projected.values.filter { $0.state == .succeeded }.count == 299)
        #expect(try e.log.fsck().ok)
        let left = try FileManager.default.contentsOfDirectory(atPath: e.layout.segments).filter { $0.hasPrefix("slurm-") }
        #expect(left == ["slurm-12_299.ndjson"], "the sealed segments read to their end are removed; the written-over one (not sealed) is kept")

        // Again, a worker's event rewritten with the same id in a segment read in the middle: an error once its chunk
        // is committed; the chunks before it stay in, nothing after it goes in, nothing runs on.
        let f = try SlurmLikeExperiment(tasks: 300, failing: 17, samples: 120)
        defer { try? FileManager.default.removeItem(atPath: f.dir) }
        // Task 250's segment is read about the 170th of 301 (by name), in the second chunk; task 99's is read last.
        let original = try RawEvent(ndjsonLine: f.workerLines[250]![5])
        try f.log.append([try original.decoded()])
        let held = try f.log.events().count
        var conflicting = f.workerLines[250]!
        conflicting[5] = conflicting[5].replacingOccurrences(of: #""rss":"#, with: #""rss":1"#)
        try? FileManager.default.removeItem(atPath: f.layout.segments + "/slurm-12_250.ndjson")
        try f.segment("slurm-12_250.ndjson", conflicting)
        #expect {
            try f.log.ingestNewSegments(in: f.layout.segments)
        } throws: { ($0 as? EventLogError)?.code == "eventlog.conflicting_duplicate" && "\($0)".contains("slurm-12_250.ndjson") }
        let after = try f.log.events()
        #expect(after.count > held && after.count < held + 300 + workers, "\(after.count - held) events of the ingest in")
        #expect(!after.contains { $0.task == "99" && $0.type == "task_started" }, "nothing read after the conflict is in")
        #expect(try f.log.fsck().ok)
    }
}

extension SegmentCheckTests {
    @Test("an ingest of many segments tells its progress after each segment read, up to every segment found new")
    func ingestProgress() throws {
        let e = try SlurmLikeExperiment(tasks: 5)
        defer { try? FileManager.default.removeItem(atPath: e.dir) }
        var seen: [EventLog.IngestProgress] = []
        guard case .ingested(let report) = try e.layout.ingestNewSegments(progress: { seen.append($0) }) else {
            Issue.record("nothing ingested")
            return
        }
        #expect(report.refused.isEmpty && report.inserted == 5 + 5 * 5)
        #expect(seen.map(\.segmentsRead) == Array(1...6) && seen.allSatisfy { $0.segments == 6 }, "the controller's segment and 5 workers'")
        seen = []
        #expect(try e.layout.ingestNewSegments(progress: { seen.append($0) }) == .nothingNew && seen.isEmpty)
    }
}
