import Foundation
import SQLite

/// Ingest: adding the events that workers on other machines wrote to segment files (newline-delimited JSON, one
/// event per line) to the log.
///
/// A segment is read in chunks of whole lines, each chunk in one transaction that also records how far the log has
/// read that segment (`ingested_segments`): memory stays flat in the segment's size, and the next ingest starts
/// where this one ended. Idempotent: events the log already holds (same id, same content) are skipped.
extension EventLog {
    /// The outcome of ingesting a segment.
    public struct IngestReport: Sendable, Equatable {
        /// Events added to the log.
        public var inserted: Int
        /// Events already in the log (same id, same content): skipped.
        public var duplicates: Int
        /// A torn last line (a writer crashed mid-line) that was skipped, with its 1-based line number counted from
        /// where this ingest started.
        public var tornLine: Int?

        public init(inserted: Int, duplicates: Int, tornLine: Int?) {
            self.inserted = inserted
            self.duplicates = duplicates
            self.tornLine = tornLine
        }

    }

    /// Where an ingest starts reading a segment.
    public enum IngestStart: Sendable {
        /// From its first byte (events already held are skipped).
        case beginning
        /// From where the log's last ingest of it ended; from its start if it was never ingested, or was replaced
        /// or truncated since.
        case lastIngested
    }

    /// Bytes of segment text per transaction (several small segments share one; a large one takes several).
    public static let ingestChunkBytes = 4 << 20

    /// Ingests a segment. `finished`: the writer is done (a crashed writer's torn last line is skipped and
    /// reported); otherwise a last line without its newline is being written, and is left for the next ingest.
    /// Any other bad line is an error naming the segment and the line; the chunks before it stay ingested.
    public func ingest(segmentAt path: String, from start: IngestStart = .beginning, finished: Bool = true) throws -> IngestReport {
        let batch = IngestBatch()
        try read(segment: path, from: start, finished: finished, held: start == .lastIngested ? try ingestedBytes() : [:], into: batch)
        try commit(batch)
        return batch.report
    }

    /// Reads a segment's new whole lines into `batch`, committing the batch whenever it holds a chunk's worth.
    func read(
        segment path: String, key known: String? = nil, from start: IngestStart, finished: Bool,
        held: [String: (bytes: UInt64, identity: SegmentIdentity)], into batch: IngestBatch
    ) throws {
        guard let h = FileHandle(forReadingAtPath: path) else { throw EventLogError.io(path: path, reason: "cannot read the segment file") }
        defer { try? h.close() }
        var info = stat()
        guard fstat(h.fileDescriptor, &info) == 0 else { throw EventLogError.io(path: path, reason: "cannot stat the segment file") }
        let key = known ?? segmentKey(path)
        let identity = SegmentIdentity(inode: Int64(info.st_ino), head: h.readData(ofLength: SegmentIdentity.headBytes))
        var offset: UInt64 = 0
        if start == .lastIngested, let mark = held[key], mark.identity == identity, mark.bytes <= UInt64(info.st_size) { offset = mark.bytes }
        try h.seek(toOffset: offset)
        var pending = Data()
        var lines = 0
        func add(_ text: Data) throws {
            offset += UInt64(text.count)
            let parsed = try EventLog.parseSegment(text, path: path, firstLine: lines + 1)
            batch.add(parsed.events, path: path, mark: SegmentMark(key: key, bytes: offset, identity: identity), textBytes: text.count)
            batch.report.tornLine = batch.report.tornLine ?? parsed.torn
            lines += parsed.lines
            if batch.textBytes >= EventLog.ingestChunkBytes { try commit(batch) }
        }
        while true {
            let chunk = h.readData(ofLength: EventLog.ingestChunkBytes)
            if chunk.isEmpty { break }
            pending.append(chunk)
            // The whole lines so far; the rest waits for the next read.
            let whole = pending.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> Int in
                var k = b.count
                while k > 0 && b[k - 1] != 0x0A { k -= 1 }
                return k
            }
            guard whole > 0 else { continue }
            try add(pending.prefix(whole))
            pending = Data(pending.dropFirst(whole))
        }
        if finished && !pending.isEmpty { try add(pending) }
    }

    /// Adds the batch's events to the log in one transaction, with how far each of its segments is now read.
    func commit(_ batch: IngestBatch) throws {
        guard !batch.marks.isEmpty else { return }
        let events = batch.events
        let inserted: Int = try write { s in
            var new: [(event: Int, seq: Int64, input: Replay.Input)] = []
            // Most ingests hold only new events: all of them in multi-row INSERTs, as append does. An event the log
            // already holds (a segment read again) undoes that attempt, and the events go one by one.
            try s.db.execute("SAVEPOINT ingest_batch")
            do {
                let seqs = try s.insertAll(events.count) { i, arena in PendingRow(events[i].event, into: &arena) }
                try s.db.execute("RELEASE ingest_batch")
                new = seqs.enumerated().map { i, seq in (i, seq, Replay.input(of: events[i].event)) }
            } catch let e as SQLiteError where e.code == 19 {  // SQLITE_CONSTRAINT: an id already in the log
                try s.db.execute("ROLLBACK TO ingest_batch")
                try s.db.execute("RELEASE ingest_batch")
                for (i, e) in events.enumerated() {
                    if try s.insert(e.event, ignoringDuplicate: true) {
                        new.append((i, s.db.lastInsertRowID, Replay.input(of: e.event)))
                    } else if try !s.sameAsStored(e.event) {
                        throw EventLogError.conflictingDuplicate(path: e.path, id: e.event.id)
                    }
                }
            }
            try s.project(new.count, task: { new[$0].input.isAboutTask ? events[new[$0].event].event.task : nil }) { k, state in
                let e = events[new[k].event].event
                Replay.apply(new[k].input, seq: new[k].seq, time: e.time, attempt: e.attempt, to: &state)
            }
            for mark in batch.marks.values { try s.recordIngested(segment: mark.key, bytes: mark.bytes, identity: mark.identity) }
            return new.count
        }
        batch.report.inserted += inserted
        batch.report.duplicates += events.count - inserted
        batch.clear()
    }

    /// The segments of `folder` (`*.ndjson`) that hold bytes the log has not ingested: a look at each file's size
    /// and the log's bookkeeping, without reading any segment.
    public func segmentsWithNewBytes(in folder: String) throws -> [String] {
        try segmentsWithNewBytes(in: folder, sizes: nil).map(\.path)
    }

    /// The same, with each segment's key in the bookkeeping. The bookkeeping is read only if the folder holds a
    /// segment (`sizes`: already read).
    func segmentsWithNewBytes(in folder: String, sizes known: [String: (bytes: UInt64, inode: Int64)]?) throws -> [(path: String, key: String)] {
        guard let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        let fd = dirfd(dir)
        let prefix = String(segmentKey(folder + "/x").dropLast())
        var sizes = known
        var pending: [(path: String, key: String)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            guard name.hasSuffix(".ndjson") else { continue }
            var info = stat()
            guard fstatat(fd, name, &info, 0) == 0, info.st_size > 0 else { continue }
            if sizes == nil { sizes = try ingestedSizes() }
            // Not ingested yet, or another file now (a different inode; the first bytes are compared on ingest).
            if let h = sizes![prefix + name], h.inode == Int64(info.st_ino), UInt64(info.st_size) <= h.bytes { continue }
            pending.append((folder + "/" + name, prefix + name))
        }
        return pending.sorted { $0.path < $1.path }
    }

    /// Ingests what the segments of `folder` gained since the last ingest (segments still being written: their
    /// last line waits for its newline). Small segments share transactions.
    public func ingestNewSegments(in folder: String) throws -> IngestReport {
        let pending = try segmentsWithNewBytes(in: folder, sizes: nil)
        let batch = IngestBatch()
        guard !pending.isEmpty else { return batch.report }
        let held = try ingestedBytes()
        for (path, key) in pending { try read(segment: path, key: key, from: .lastIngested, finished: false, held: held, into: batch) }
        try commit(batch)
        return batch.report
    }

    /// How far each segment was ingested and its inode, by key, without the rest of its identity: the quick look.
    func ingestedSizes() throws -> [String: (bytes: UInt64, inode: Int64)] {
        try read {
            guard try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'ingested_segments'")?.int64 == 1 else { return [:] }
            var out: [String: (UInt64, Int64)] = [:]
            let stmt = try db.prepare("SELECT segment, bytes, inode FROM ingested_segments")
            while try stmt.step() { out[stmt.string(0)] = (UInt64(stmt.int64(1)), stmt.int64(2)) }
            return out
        }
    }

    /// How far each segment was ingested, by key. Empty for a log older than the bookkeeping (schema 3, read-only).
    func ingestedBytes() throws -> [String: (bytes: UInt64, identity: SegmentIdentity)] {
        try read {
            guard try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'ingested_segments'")?.int64 == 1 else { return [:] }
            var out: [String: (UInt64, SegmentIdentity)] = [:]
            for r in try db.rows("SELECT segment, bytes, inode, head FROM ingested_segments") {
                let head: Data
                if case .blob(let b) = r[3] { head = Data(b) } else { head = Data() }
                out[r[0].string ?? ""] = (UInt64(r[1].int64 ?? 0), SegmentIdentity(inode: r[2].int64 ?? 0, head: head))
            }
            return out
        }
    }

    /// A segment's name in the bookkeeping: relative to the experiment folder when inside it (the folder may move).
    func segmentKey(_ path: String) -> String {
        let folder = URL(fileURLWithPath: (self.path as NSString).deletingLastPathComponent).standardizedFileURL.path + "/"
        let full = URL(fileURLWithPath: path).standardizedFileURL.path
        return full.hasPrefix(folder) ? String(full.dropFirst(folder.count)) : full
    }

    /// Splits segment text into events; returns the line number of a torn last line (no newline, not an event),
    /// if one was skipped, and how many lines the text holds. Blank lines are skipped. A line as clowdr's workers
    /// write it is read without building its JSON value; any other through the JSON parser.
    static func parseSegment(_ data: Data, path: String, firstLine: Int = 1) throws -> (events: [RawEvent], torn: Int?, lines: Int) {
        var events: [RawEvent] = []
        var torn: Int?
        var lineNo = firstLine - 1
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            let bytes = buffer.bindMemory(to: UInt8.self)
            var start = 0
            while start < bytes.count {
                lineNo += 1
                var end = bytes.count
                if let found = memchr(bytes.baseAddress! + start, 0x0A, bytes.count - start) {
                    end = UnsafeRawPointer(found) - UnsafeRawPointer(bytes.baseAddress!)
                }
                let complete = end < bytes.count
                let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
                start = end + 1
                if let fast = RawEvent(canonicalLine: line) {
                    events.append(fast)
                    continue
                }
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
                do {
                    events.append(try RawEvent(ndjsonLine: String(decoding: line, as: UTF8.self)))
                } catch {
                    if !complete {
                        torn = lineNo
                        break
                    }
                    throw EventLogError.badSegment(path: path, line: lineNo, reason: "\(error)")
                }
            }
        }
        return (events, torn, lineNo - (firstLine - 1))
    }
}

/// How far one segment is read.
struct SegmentMark {
    var key: String
    var bytes: UInt64
    var identity: SegmentIdentity
}

/// Events read from segments and not yet committed, with how far each segment will then be read.
final class IngestBatch {
    var events: [(event: RawEvent, path: String)] = []
    var marks: [String: SegmentMark] = [:]
    var textBytes = 0
    var report = EventLog.IngestReport(inserted: 0, duplicates: 0, tornLine: nil)

    func add(_ new: [RawEvent], path: String, mark: SegmentMark, textBytes n: Int) {
        events += new.map { ($0, path) }
        marks[mark.key] = mark
        textBytes += n
    }

    func clear() {
        events.removeAll(keepingCapacity: true)
        marks.removeAll(keepingCapacity: true)
        textBytes = 0
    }
}

/// Which file a segment is: its inode and its first bytes (its first event's id), so that a segment replaced by
/// another file, even one given the same inode, is read from its start.
struct SegmentIdentity: Equatable {
    static let headBytes = 64
    var inode: Int64
    var head: Data
}

extension ExperimentLayout {
    /// What `ingestNewSegments()` did.
    public enum NewSegments: Sendable, Equatable {
        /// No segment holds anything the log lacks (nothing was written).
        case nothingNew
        case ingested(EventLog.IngestReport)
        /// Segments hold new events, but this user cannot write the log: it is read as it is.
        case unwritable(segments: Int)
    }

    /// Brings the log up to date with its workers' segments before it is read: a look at the segments' sizes, and
    /// an ingest only when one grew (the log is not written otherwise).
    public func ingestNewSegments() throws -> NewSegments {
        guard FileManager.default.fileExists(atPath: segments) else { return .nothingNew }
        let pending = try EventLog(path: log, mode: .readOnly).segmentsWithNewBytes(in: segments)
        guard !pending.isEmpty else { return .nothingNew }
        guard access(directory, W_OK) == 0 && access(log, W_OK) == 0 else { return .unwritable(segments: pending.count) }
        let writer = try EventLog(path: log, mode: .readWrite)
        let report = try writer.ingestNewSegments(in: segments)
        try writer.checkpoint()
        return .ingested(report)
    }
}
