import EventLog
import Foundation
import JSON
import SQLite
import TestSupport
import Testing

@Suite("EventLog: storage, append-only, projections")
struct EventLogStoreTests {
    func newLog(_ name: String = "log") throws -> EventLog {
        try EventLog(path: try TestSupport.temporaryDirectory(name) + "/clowdr.db", mode: .create)
    }

    @Test("the pragmas are set and read back")
    func pragmas() throws {
        let p = try newLog().pragmas()
        #expect(p["journal_mode"] == "wal")
        #expect(p["synchronous"] == "2")
        #expect(p["foreign_keys"] == "1")
        #expect(p["busy_timeout"] == "10000")
        #expect(p["user_version"] == "8")
    }

    @Test("UPDATE and DELETE on events fail at the SQL level, whoever tries")
    func appendOnly() throws {
        let log = try newLog()
        var s = Script()
        s.plan("1")
        s.plan("2")
        try log.append(s.events)
        let db = try Connection(path: log.path)
        for sql in [
            "UPDATE events SET type = 'x' WHERE seq = 1", "DELETE FROM events WHERE seq = 1", "DELETE FROM events",
            "UPDATE events SET payload = '{}'",
        ] {
            #expect {
                try db.execute(sql)
            } throws: { e in
                let e = e as! SQLiteError
                return e.isConstraint && e.message.contains("append-only")
            }
        }
        #expect(try db.scalar("SELECT count(*) FROM events") == .integer(2))
        #expect(try log.fsck().ok)
    }

    @Test("appends get gapless seqs and replay sees exactly what was appended")
    func appendAndRead() throws {
        let log = try newLog()
        var s = Script()
        s.plan("a")
        s.submit("a", 1)
        s.start("a", 1)
        s.sample("a", 1, rss: 10)
        s.exit("a", 1, code: 0)
        let seqs = try log.appendReturningSeqs(Array(s.events.prefix(2)))
        let more = try log.appendReturningSeqs(Array(s.events.dropFirst(2)))
        #expect(seqs + more == [1, 2, 3, 4, 5])
        let stored = try log.events()
        #expect(try stored.map { try $0.decoded() } == s.events)
        #expect(try log.replay() == Replay.run(stored))
        #expect(try log.count() == 5)
    }

    @Test("large batches (multi-row inserts and a tail, typed and stored form) keep seqs, content and projections exact")
    func largeBatches() throws {
        let log = try newLog()
        var s = Script()
        // 3 tasks x (plan, submit, start, 30 samples, exit) = 102 events: three 32-row chunks (the first mixed, the
        // other two samples only, which go through the statement with the type as a constant) and a tail of 6.
        for t in ["a", "b", "c"] { s.plan(t) }
        for t in ["a", "b", "c"] {
            s.submit(t, 1)
            s.start(t, 1)
        }
        for k in 0..<30 { for t in ["a", "b", "c"] { s.sample(t, 1, rss: Int64(k * 10 + Int(t.utf8.first!) % 7)) } }
        for t in ["a", "b", "c"] { s.exit(t, 1, code: t == "b" ? 2 : 0) }
        let seqs = try log.appendReturningSeqs(s.events)
        #expect(seqs == Array(1...Int64(s.events.count)))
        let stored = try log.events()
        #expect(stored.map(\.seq) == seqs.map { Optional($0) })
        #expect(try stored.map { try $0.decoded() } == s.events)

        // The same events in stored form, into a second log: identical rows.
        let copy = try newLog("copy")
        let copySeqs = try copy.appendReturningSeqs(
            stored.map {
                var r = $0
                r.seq = nil
                return r
            })
        #expect(copySeqs == seqs)
        #expect(try copy.events() == stored)

        // A chunk of stored samples with one of another version: it keeps its version (the general statement).
        let ids = SequentialIDSource(stream: 9)
        var samples = (0..<32).map { k in
            RawEvent(
                seq: nil, id: ids.next(at: Timestamp(microseconds: 0)).text, time: Timestamp(microseconds: 1_800_000_000_000_000 + Int64(k)),
                task: "a", attempt: 1, type: "sample", version: 1, payload: #"{"rss":\#(k)}"#)
        }
        samples[7].version = 2
        let sampleSeqs = try copy.appendReturningSeqs(samples)
        let storedSamples = try copy.events(after: copySeqs.last!)
        #expect(storedSamples.map(\.seq) == sampleSeqs.map { Optional($0) })
        #expect(storedSamples.map(\.version) == samples.map(\.version))
        #expect(storedSamples.map(\.payload) == samples.map(\.payload))

        for l in [log, copy] {
            let report = try l.fsck()
            #expect(report.ok, "\(report.problems)")
            // The copy has the extra samples but one: a sample of version 2 is an unknown event, not a sample.
            #expect(try l.projectedTasks()["a"]?.latest?.samples == (l === log ? 30 : 61))
            #expect(try l.projectedTasks()["b"]?.state == .failed)
        }
    }

    @Test("the projection tables equal a rebuild from the events after every kind of transition")
    func projectionsMatchReplay() throws {
        let log = try newLog()
        var s = Script()
        for t in ["ok", "fail", "lost", "cancel", "rerun", "never"] { s.plan(t) }
        try log.append(s.events)
        var r = Script()
        r.submit("ok", 1)
        r.start("ok", 1)
        r.sample("ok", 1, rss: 100)
        r.exit("ok", 1, code: 0, peak: 50)
        r.start("fail", 1)
        r.exit("fail", 1, code: 1)
        r.start("lost", 1)
        r.lost("lost", 1)
        r.start("cancel", 1)
        r.cancel("cancel", 1)
        r.exit("cancel", 1, code: nil, signal: 15)
        r.start("rerun", 1)
        r.exit("rerun", 1, code: 1)
        for e in r.events { try log.append([e]) }  // one by one
        var q = Script()
        q.add(nil, nil, .rerunRequested(RerunRequested(mode: .failed, tasks: ["rerun"])))
        q.submit("rerun", 2)
        q.start("rerun", 2)
        q.sample("rerun", 2, rss: 7)
        q.exit("rerun", 2, code: 0)
        try log.append(q.events)  // all at once
        let report = try log.fsck()
        #expect(report.ok, "\(report.problems)")
        #expect(try log.projectedTasks() == log.replay().tasks)
        #expect(try log.projectedTasks()["ok"]?.latest?.peakRSS == 100)
    }

    @Test("fsck reports a projection that disagrees with the events")
    func fsckFindsDifferences() throws {
        let log = try newLog()
        var s = Script()
        s.plan("t")
        s.start("t", 1)
        s.exit("t", 1, code: 3)
        try log.append(s.events)
        let db = try Connection(path: log.path)
        try db.execute("UPDATE attempts SET state = 'succeeded', exit_code = 0 WHERE task = 't'")
        let report = try log.fsck()
        #expect(!report.ok)
        #expect(report.differences.contains { $0.contains("state is succeeded in the projection, failed from the events") })
        #expect(report.differences.contains { $0.contains("exit_code is 0 in the projection, 3 from the events") })
    }

    @Test("the log reopens with its data, read-only readers see it, and a newer schema is refused")
    func reopen() throws {
        let dir = try TestSupport.temporaryDirectory("reopen")
        do {
            let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
            var s = Script()
            s.plan("x")
            try log.append(s.events)
        }
        let reader = try EventLog(path: dir, mode: .readOnly)  // a folder works too
        #expect(try reader.count() == 1)
        #expect(throws: EventLogError.self) {
            try reader.append([EventFactory().make(task: "y", .taskPlanned(TaskPlanned(invocation: [:], commandLine: "")))])
        }
        try Connection(path: dir + "/clowdr.db").execute("PRAGMA user_version = 99")
        #expect {
            try EventLog(path: dir + "/clowdr.db", mode: .readWrite)
        } throws: { "\($0)".contains("use a newer clowdr") }
        #expect {
            try EventLog(path: dir + "/missing", mode: .readOnly)
        } throws: { ($0 as? EventLogError)?.code == "eventlog.not_found" }
    }

    @Test("a failed batch writes nothing")
    func atomicBatch() throws {
        let log = try newLog()
        var s = Script()
        s.plan("a")
        try log.append(s.events)
        var t = Script()
        t.plan("b")
        // The second event reuses an id already in the log: the whole batch must roll back.
        let batch = [t.events[0], s.events[0]]
        #expect(throws: EventLogError.self) { try log.append(batch) }
        #expect(try log.count() == 1)
        #expect(try log.projectedTasks().keys.sorted() == ["a"])
    }

    @Test("the projected state (projections and a few indexed events) is the replayed state")
    func projectedState() throws {
        let log = try newLog()
        var s = Script()
        s.add(
            nil, nil,
            .experimentCreated(
                ExperimentCreated(
                    experiment: "e", descriptorSHA256: "00", invocations: [], backend: "local", user: "u", host: "vm", clowdrVersion: "1", os: "linux"
                )))
        for t in ["10", "2", "1"] { s.plan(t) }
        s.submit("2", 1)
        s.start("2", 1)
        s.sample("2", 1, rss: 9)
        s.exit("2", 1, code: 3)
        s.start("10", 1)
        s.add(nil, nil, .rerunRequested(RerunRequested(mode: .failed, tasks: ["2"])))
        s.submit("2", 2)
        s.start("2", 2)
        try log.append(s.events)
        var later = Script()
        later.plan("x")
        later.plan("y")
        var unknown = try later.events.map { try $0.raw() }
        (unknown[0].type, unknown[0].task) = ("from_the_future", "1")
        (unknown[1].type, unknown[1].version, unknown[1].task) = ("task_exited", 7, nil)
        _ = try log.appendReturningSeqs(unknown)
        let replayed = try log.replay()
        let projected = try log.projectedState()
        #expect(projected.tasks == replayed.tasks && projected.taskOrder == replayed.taskOrder)
        #expect(projected.experiment == replayed.experiment && projected.createdAt == replayed.createdAt)
        #expect(projected.reruns.map(\.seq) == replayed.reruns.map(\.seq) && projected.reruns.count == 1)
        #expect(projected.unknownEvents == replayed.unknownEvents && projected.unknownEvents.count == 2)
        #expect(projected.eventCount == replayed.eventCount && projected.lastSeq == replayed.lastSeq && projected.lastEventAt == replayed.lastEventAt)
    }

    @Test("status's summary (counts, the first tasks of a state in plan order, the incomplete count) agrees with the full state")
    func statusSummary() throws {
        let log = try newLog()
        var s = Script()
        // 30 planned in a scrambled order; 25 fail, 2 succeed, 1 runs, 2 stay planned; one unplanned task runs.
        let names = (0..<30).map { "t\(($0 * 7) % 30)" }
        for t in names { s.plan(t) }
        for (i, t) in names.enumerated() {
            guard i < 28 else { continue }
            s.submit(t, 1)
            s.start(t, 1)
            if i == 27 { continue }
            s.exit(t, 1, code: i < 25 ? 1 : 0)
        }
        s.start("unplanned", 1)
        try log.append(s.events)
        var unknown = try {
            var u = Script()
            u.plan("z")
            return try u.events.map { try $0.raw() }
        }()
        unknown[0].type = "from_the_future"
        _ = try log.appendReturningSeqs(unknown)
        let state = try log.projectedState()
        let summary = try log.statusSummary(shown: 20)
        #expect(summary.counts == state.counts && summary.tasks == state.tasks.count)
        for status in [TaskState.failed, .running] {
            let expected = state.orderedTasks.filter { $0.state == status }.prefix(20).map(\.task)
            #expect(summary.first[status] ?? [] == Array(expected), "\(status)")
            for t in expected { #expect(summary.state.tasks[t] == state.tasks[t]) }
        }
        #expect(summary.first[.failed]?.count == 20 && summary.first[.running] == [names[27], "unplanned"])
        for alive in [false, true] { #expect(summary.incomplete(controllerAlive: alive) == state.select(.incomplete, isAlive: { _ in alive }).count) }
        #expect(summary.state.unknownEvents == state.unknownEvents && summary.state.unknownEvents.count == 1)
    }

    @Test("the embedded migrations are exactly schema/sql/*.sql (run scripts/embed-schema.sh after editing them)")
    func migrationsEmbedded() throws {
        let dir = TestSupport.repositoryRoot + "/schema/sql"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.count == 8)
        let log = try newLog()
        let master = try log.withConnection { db in
            try db.rows("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') ORDER BY name").compactMap { $0[0].string }
        }
        #expect(
            master == ["attempts", "events", "events_no_delete", "events_no_update", "ingested_segments", "segment_folders", "tasks"],
            "tables and triggers")
        let generated = try String(contentsOfFile: TestSupport.repositoryRoot + "/Sources/EventLog/Migrations+Generated.swift", encoding: .utf8)
        for f in files {
            let sql = try String(contentsOfFile: dir + "/" + f, encoding: .utf8)
            let indented = sql.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "            " + $0 }.joined(
                separator: "\n")
            #expect(generated.contains(indented), "\(f) changed: run scripts/embed-schema.sh")
        }
    }
}

@Suite("Group commit")
struct GroupCommitTests {
    @Test("a sink closed at once, before its writer ran, is safe; posted events from many threads all land in order per thread")
    func groupCommit() throws {
        let log = try EventLog(path: try TestSupport.temporaryDirectory("group") + "/clowdr.db", mode: .create)
        for _ in 0..<200 { try GroupCommitSink(log).close() }
        let sink = GroupCommitSink(log)
        DispatchQueue.concurrentPerform(iterations: 8) { k in
            for n in 0..<250 {
                sink.post([
                    Script.factory.make(
                        task: "t\(k)", attempt: 1,
                        .sample(
                            Sample(cpuUser: Double(n), cpuSystem: 0, rss: Int64(n), vms: 0, readBytes: 0, writeBytes: 0, processes: 1, threads: 1)))
                ])
            }
        }
        try sink.close()
        #expect(try log.count() == 2000)
        let state = try log.replay()
        #expect((0..<8).allSatisfy { state.tasks["t\($0)"]?.latest?.samples == 250 && state.tasks["t\($0)"]?.latest?.peakRSS == 249 })
        #expect(try log.fsck().ok)
    }
}

@Suite("Schema upgrades")
struct UpgradeTests {
    @Test("a log of schema 2: a reader refuses it, naming clowdr upgrade, and writes nothing; a writer upgrades it and rebuilds its projections")
    func upgradeFromTwo() throws {
        let dir = try TestSupport.temporaryDirectory("upgrade")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
            try log.append([
                Script.factory.make(task: "t", .taskPlanned(TaskPlanned(invocation: [:], commandLine: "x", labels: ["participant": "01"])))
            ])
        }
        // Back to what schema 2 was: no labels column, no index, version 2.
        try Connection(path: dir + "/clowdr.db").execute(
            "DROP INDEX events_lifecycle; DROP INDEX events_other_versions; DROP INDEX tasks_state; DROP TABLE ingested_segments; DROP TABLE segment_folders; DROP INDEX attempts_peak_rss; ALTER TABLE tasks DROP COLUMN labels; ALTER TABLE attempts DROP COLUMN figures; ALTER TABLE attempts DROP COLUMN last_sample_at; DROP INDEX events_attempt_final; ALTER TABLE attempts DROP COLUMN undeclared; DROP INDEX events_attempt_files; PRAGMA user_version = 2"
        )
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/clowdr.db"))
        #expect {
            try EventLog(path: dir, mode: .readOnly)
        } throws: { "\($0)".contains("schema version 2") && "\($0)".contains("clowdr upgrade") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/clowdr.db")) == before, "reading never writes")
        _ = try EventLog(path: dir, mode: .readWrite)
        let reader = try EventLog(path: dir, mode: .readOnly)
        #expect(try reader.pragmas()["user_version"] == "8")
        #expect(try reader.projectedTasks()["t"]?.labels == #"{"participant":"01"}"#)
        #expect(try reader.fsck().ok)
    }

    @Test("a log of schema 6 (before the attempts' figures): a reader names clowdr upgrade; a writer adds the column and fills it from the events")
    func upgradeFromSix() throws {
        let dir = try TestSupport.temporaryDirectory("schema6")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
            try log.append([
                Script.factory.make(task: "t", .taskPlanned(TaskPlanned(invocation: [:], commandLine: "x"))),
                Script.factory.make(task: "t", attempt: 1, .taskExited(TaskExited(exitCode: 0, wallTime: 1, peakRSS: 5))),
            ])
            try log.checkpoint()
        }
        try Connection(path: dir + "/clowdr.db").execute(
            "ALTER TABLE attempts DROP COLUMN figures; ALTER TABLE attempts DROP COLUMN last_sample_at; DROP INDEX events_attempt_final; ALTER TABLE attempts DROP COLUMN undeclared; DROP INDEX events_attempt_files; PRAGMA user_version = 6"
        )
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/clowdr.db"))
        #expect {
            try EventLog(path: dir, mode: .readOnly)
        } throws: { "\($0)".contains("schema version 6") && "\($0)".contains("clowdr upgrade") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/clowdr.db")) == before, "reading never writes")
        #expect(try EventLog(path: dir, mode: .readWrite).pragmas()["user_version"] == "8")
        let reader = try EventLog(path: dir, mode: .readOnly)
        #expect(try reader.projectedTasks()["t"]?.latest?.figures == .exit)
        #expect(try reader.fsck().ok)
    }
}
