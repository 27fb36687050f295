import EventLog
import Foundation
import SQLite
import TestSupport
import Testing

@Suite("Ingesting segments from remote workers")
struct IngestTests {
    func segment(_ events: [Event], in dir: String, name: String = "seg.ndjson") throws -> String {
        let path = dir + "/" + name
        let writer = try SegmentWriter(path: path)
        try writer.append(events)
        return path
    }

    @Test("ingesting a segment twice changes nothing the second time")
    func idempotent() throws {
        let dir = try TestSupport.temporaryDirectory("ingest")
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        var s = Script()
        s.plan("1")
        s.submit("1", 1)
        s.start("1", 1)
        s.sample("1", 1, rss: 5)
        s.exit("1", 1, code: 0)
        let path = try segment(s.events, in: dir)
        let first = try log.ingest(segmentAt: path)
        #expect(first == EventLog.IngestReport(inserted: 5, duplicates: 0, tornLine: nil))
        let before = try log.events()
        let second = try log.ingest(segmentAt: path)
        #expect(second == EventLog.IngestReport(inserted: 0, duplicates: 5, tornLine: nil))
        #expect(try log.events() == before)
        #expect(try log.fsck().ok)
        #expect(try log.replay().tasks["1"]?.state == .succeeded)
        // Events appended directly and then seen again in a segment are duplicates too.
        var t = Script()
        t.plan("2")
        try log.append(t.events)
        let overlap = try segment(t.events + s.events, in: dir, name: "overlap.ndjson")
        #expect(try log.ingest(segmentAt: overlap).inserted == 0)
    }

    @Test(
        "while a segment folder keeps the time remembered for it, a look stats only the open segments; sealing, new files and a sealed segment written again are all seen"
    )
    func quickLook() throws {
        let dir = try TestSupport.temporaryDirectory("quick")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = dir + "/segments"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        // Workers write only the attempts they were given: the tasks are planned and submitted in the log.
        var setup = Script()
        for t in ["a", "b", "c"] {
            setup.plan(t)
            setup.submit(t, 1)
        }
        try log.append(setup.events)
        /// A start and a first sample: the samples appended later come before the attempt's end.
        func events(_ task: String, _ rss: Int64) -> [Event] {
            var s = Script()
            s.start(task, 1)
            s.sample(task, 1, rss: rss)
            return s.events
        }
        /// Sets the folder's time into the past, as a folder nobody touched for a while.
        func settle() { _ = utimes(folder, [timeval(tv_sec: time(nil) - 60, tv_usec: 0), timeval(tv_sec: time(nil) - 60, tv_usec: 0)]) }
        func remembered() throws -> Int64? {
            try log.withConnection { try $0.scalar("SELECT mtime FROM segment_folders")?.int64 }
        }
        let sealed = try SegmentWriter(path: folder + "/a.ndjson")
        try sealed.append(events("a", 0))
        try sealed.seal()
        let open = try segment(events("b", 0), in: folder, name: "b.ndjson")
        settle()
        #expect(try log.ingestNewSegments(in: folder).inserted == 4)
        #expect(try remembered() == nil, "a look that found news remembers nothing")
        #expect(try log.ingestNewSegments(in: folder).inserted == 0)
        let mark = try #require(try remembered(), "a look that found everything read, in a folder settled, is remembered")
        // An open segment grows: the folder's time does not change, the quick look sees it.
        let more = try SegmentWriter(path: open)
        var s = Script()
        s.sample("b", 1, rss: 7)
        try more.append(s.events)
        #expect(try log.segmentsWithNewBytes(in: folder) == [open])
        #expect(try log.ingestNewSegments(in: folder).inserted == 1)
        // Sealed after it was read to its end: the seal is news (recorded without events), then it is never statted.
        try more.seal()
        #expect(try log.segmentsWithNewBytes(in: folder) == [open])
        #expect(try log.ingestNewSegments(in: folder).inserted == 0)
        #expect(try log.segmentsWithNewBytes(in: folder).isEmpty)
        #expect(try log.withConnection { try $0.scalar("SELECT count(*) FROM ingested_segments WHERE sealed = 1")?.int64 } == 2)
        #expect(try remembered() == mark)
        // A sealed segment written again (a requeued element): its writer unseals it and touches the folder.
        let again = try SegmentWriter(path: folder + "/a.ndjson")
        var r = Script()
        r.sample("a", 1, rss: 9)
        try again.append(r.events)
        #expect(try log.segmentsWithNewBytes(in: folder) == [folder + "/a.ndjson"])
        #expect(try log.ingestNewSegments(in: folder).inserted == 1)
        // A new file changes the folder's time.
        settle()
        _ = try log.ingestNewSegments(in: folder)
        #expect(try remembered() != nil)
        let c = try segment(events("c", 1), in: folder, name: "c.ndjson")
        #expect(try log.segmentsWithNewBytes(in: folder) == [c])
        #expect(try log.ingestNewSegments(in: folder).inserted == 2)
        #expect(try log.replay().tasks.count == 3 && log.fsck().ok)
    }

    @Test("an ingest starts where the last one ended, remembered in the log: only new lines are read; a line being written waits")
    func incremental() throws {
        let dir = try TestSupport.temporaryDirectory("incremental")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/segments", withIntermediateDirectories: true)
        // The plan and the submission in the log; the worker's segment holds what a worker writes.
        var setup = Script()
        setup.plan("1")
        setup.submit("1", 1)
        setup.plan("2")
        setup.submit("2", 1)
        var s = Script()
        s.start("1", 1)
        for i in 0..<10 { s.sample("1", 1, rss: Int64(i)) }
        s.exit("1", 1, code: 0)
        let lines = try s.events.map { try $0.raw().ndjsonLine + "\n" }
        let path = dir + "/segments/w.ndjson"
        try lines[0..<5].joined().write(toFile: path, atomically: false, encoding: .utf8)
        do {
            let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
            try log.append(setup.events)
            #expect(try log.segmentsWithNewBytes(in: dir + "/segments") == [path])
            #expect(try log.ingestNewSegments(in: dir + "/segments") == EventLog.IngestReport(inserted: 5, duplicates: 0, tornLine: nil))
            #expect(try log.segmentsWithNewBytes(in: dir + "/segments").isEmpty)
        }
        // Five more lines and half of the next, in another process's view: a new connection.
        let h = try #require(FileHandle(forWritingAtPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data((lines[5..<10].joined() + lines[10].prefix(20)).utf8))
        let log = try EventLog(path: dir + "/clowdr.db", mode: .readWrite)
        #expect(try log.ingestNewSegments(in: dir + "/segments") == EventLog.IngestReport(inserted: 5, duplicates: 0, tornLine: nil))
        #expect(try log.segmentsWithNewBytes(in: dir + "/segments") == [path], "the half line waits")
        try h.write(contentsOf: Data((lines[10].dropFirst(20) + lines[11...].joined()).utf8))
        try h.close()
        #expect(try log.ingestNewSegments(in: dir + "/segments").inserted == s.events.count - 10)
        #expect(try log.count() == Int64(setup.events.count + s.events.count) && log.replay().tasks["1"]?.state == .succeeded)
        // A segment replaced by another file (another inode) is read from its start; what the log holds is skipped.
        try FileManager.default.removeItem(atPath: path)
        var extra = Script()
        extra.start("2", 1)
        try (lines[1...].joined() + lines[0] + extra.events[0].raw().ndjsonLine + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try log.ingestNewSegments(in: dir + "/segments") == EventLog.IngestReport(inserted: 1, duplicates: s.events.count, tornLine: nil))
        #expect(try log.fsck().ok)
    }

    @Test("a segment larger than one read is ingested in chunks of whole lines, none lost or split")
    func chunks() throws {
        let dir = try TestSupport.temporaryDirectory("chunks")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var s = Script()
        s.plan("1")
        s.start("1", 1)
        let samples = 3 * EventLog.ingestChunkBytes / 200  // three reads' worth at least
        for i in 0..<samples { s.sample("1", 1, rss: Int64(i)) }
        s.exit("1", 1, code: 0)
        let path = try segment(s.events, in: dir)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size > 2 * EventLog.ingestChunkBytes)
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        #expect(try log.ingest(segmentAt: path) == EventLog.IngestReport(inserted: s.events.count, duplicates: 0, tornLine: nil))
        #expect(try log.replay().tasks["1"]?.latest?.samples == samples)
    }

    @Test("a torn last line is skipped with a report; everything before it is ingested")
    func tornLine() throws {
        let dir = try TestSupport.temporaryDirectory("torn")
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        var s = Script()
        s.plan("1")
        s.start("1", 1)
        s.exit("1", 1, code: 0)
        let path = try segment(Array(s.events.prefix(2)), in: dir)
        let full = try s.events[2].raw().ndjsonLine
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(full.prefix(full.count / 2).utf8))  // the writer died mid-line
        try handle.close()
        let report = try log.ingest(segmentAt: path)
        #expect(report.inserted == 2)
        #expect(report.tornLine == 3)
        #expect(try log.replay().tasks["1"]?.state == .running)
    }

    @Test("a bad line in the middle is refused (recorded, the segment kept aside as it was); the lines around it are ingested")
    func badMiddleLine() throws {
        let dir = try TestSupport.temporaryDirectory("bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        var s = Script()
        s.plan("1")
        s.plan("2")
        let lines = try s.events.map { try $0.raw().ndjsonLine }
        let path = dir + "/seg.ndjson"
        let text = lines[0] + "\n{\"id\": 1}\n" + lines[1] + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let report = try log.ingest(segmentAt: path)
        #expect(report.inserted == 2 && report.refused.count == 1)
        let refusal = try #require(report.refused.first)
        #expect(refusal.line == 2 && refusal.code == "segment.not_json" && refusal.kept == "refused/seg.ndjson", "\(refusal)")
        #expect(try String(contentsOfFile: dir + "/refused/seg.ndjson", encoding: .utf8) == text)
        let state = try log.replay()
        #expect(state.tasks.count == 2 && state.refusedLines.count == 1)
        // Read again: the refusal is recorded once.
        #expect(try log.ingest(segmentAt: path).refused.isEmpty && log.replay().refusedLines.count == 1)
    }

    @Test("the same id with different content is refused: one of the writers is broken")
    func conflictingDuplicate() throws {
        let dir = try TestSupport.temporaryDirectory("conflict")
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        var s = Script()
        s.plan("1")
        try log.append(s.events)
        var changed = try s.events[0].raw()
        changed.payload = #"{"command_line":"other","invocation":{},"labels":{}}"#
        let path = dir + "/seg.ndjson"
        try (changed.ndjsonLine + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try log.ingest(segmentAt: path)
        } throws: { ($0 as? EventLogError)?.code == "eventlog.conflicting_duplicate" }
        // Among several segments read into one transaction, the error names the one that holds the conflict.
        let folder = dir + "/segments"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var started = Script()
        started.submit("1", 1)
        started.start("1", 1)
        try log.append(started.events)
        var t = Script()
        t.sample("1", 1, rss: 5)
        try (try t.events.map { try $0.raw().ndjsonLine + "\n" }.joined()).write(toFile: folder + "/a.ndjson", atomically: true, encoding: .utf8)
        var other = try started.events[1].raw()
        other.payload = #"{"boot_id":"b","host":"elsewhere","pid":100}"#
        try (other.ndjsonLine + "\n").write(toFile: folder + "/b.ndjson", atomically: true, encoding: .utf8)
        #expect {
            try log.ingestNewSegments(in: folder)
        } throws: { ($0 as? EventLogError)?.code == "eventlog.conflicting_duplicate" && "\($0)".contains("/b.ndjson") }
    }

    @Test("an event type this clowdr does not know is refused, naming the upgrade; nothing of it is in the log")
    func unknownInSegment() throws {
        let dir = try TestSupport.temporaryDirectory("unknown")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        var s = Script()
        s.plan("1")
        s.add("1", 1, .unknown(type: "gpu_sample", version: 3, payload: #"{"util":0.5}"#))
        let path = try segment(s.events, in: dir)
        let report = try log.ingest(segmentAt: path)
        #expect(report.inserted == 1 && report.refused.map(\.code) == ["segment.type"] && report.refused[0].reason.contains("upgrade clowdr"))
        #expect(try log.events().allSatisfy { $0.type != "gpu_sample" })
        #expect(try log.fsck().ok)
    }
}

extension IngestTests {
    @Test("a controller's segment (its submissions) is ingested before the workers' segments, whatever their names")
    func controllerSegmentFirst() throws {
        let dir = try TestSupport.temporaryDirectory("controller-first")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let layout = ExperimentLayout(directory: dir)
        try FileManager.default.createDirectory(atPath: layout.segments, withIntermediateDirectories: true)
        var planned = Script()
        planned.plan("1")
        let log = try EventLog(path: layout.log, mode: .create)
        try log.append(planned.events)
        // The worker's segment sorts first by name ("a..." < "controller-..."), and was written after.
        var controller = Script()
        controller.submit("1", 1)
        var worker = Script()
        worker.start("1", 1)
        worker.exit("1", 1, code: 0)
        _ = try segment(
            controller.events, in: layout.segments, name: (layout.controllerSegment("01M8SNGNJE8KJ7VNNTAHB36MV6") as NSString).lastPathComponent)
        _ = try segment(worker.events, in: layout.segments, name: "a-node-1.ndjson")
        #expect(try log.ingestNewSegments(in: layout.segments).inserted == 3)
        #expect(try log.events().compactMap(\.knownType) == [.taskPlanned, .taskSubmitted, .taskStarted, .taskExited])
        #expect(try log.replay().tasks["1"]?.state == .succeeded && log.fsck().ok)
    }
}
