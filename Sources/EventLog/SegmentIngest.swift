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

        static func += (a: inout IngestReport, b: IngestReport) {
            a.inserted += b.inserted
            a.duplicates += b.duplicates
            a.tornLine = a.tornLine ?? b.tornLine
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

    /// Bytes read per transaction.
    public static let ingestChunkBytes = 4 << 20

    /// Ingests a segment. `finished`: the writer is done (a crashed writer's torn last line is skipped and
    /// reported); otherwise a last line without its newline is being written, and is left for the next ingest.
    /// Any other bad line is an error naming the segment and the line; the chunks before it stay ingested.
    public func ingest(segmentAt path: String, from start: IngestStart = .beginning, finished: Bool = true) throws -> IngestReport {
        guard let h = FileHandle(forReadingAtPath: path) else { throw EventLogError.io(path: path, reason: "cannot read the segment file") }
        defer { try? h.close() }
        var info = stat()
        guard fstat(h.fileDescriptor, &info) == 0 else { throw EventLogError.io(path: path, reason: "cannot stat the segment file") }
        let key = segmentKey(path)
        let identity = SegmentIdentity(inode: Int64(info.st_ino), head: h.readData(ofLength: SegmentIdentity.headBytes))
        var offset: UInt64 = 0
        if start == .lastIngested, let held = try ingestedBytes()[key], held.identity == identity, held.bytes <= UInt64(info.st_size) {
            offset = held.bytes
        }
        try h.seek(toOffset: offset)
        var report = IngestReport(inserted: 0, duplicates: 0, tornLine: nil)
        var pending = Data()
        var lines = 0
        while true {
            let chunk = h.readData(ofLength: EventLog.ingestChunkBytes)
            if chunk.isEmpty { break }
            pending.append(chunk)
            guard let lastNewline = pending.lastIndex(of: 0x0A) else { continue }
            let whole = pending[pending.startIndex...lastNewline]
            offset += UInt64(whole.count)
            report += try ingestLines(whole, path: path, firstLine: lines + 1, key: key, identity: identity, offset: offset)
            lines += whole.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            pending = Data(pending[pending.index(after: lastNewline)...])
        }
        if finished && !pending.isEmpty {
            offset += UInt64(pending.count)
            report += try ingestLines(pending, path: path, firstLine: lines + 1, key: key, identity: identity, offset: offset)
        }
        return report
    }

    /// The segments of `folder` (`*.ndjson`) that hold bytes the log has not ingested: a look at each file's size
    /// and the log's bookkeeping, without reading any segment.
    public func segmentsWithNewBytes(in folder: String) throws -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".ndjson") }.sorted()
        guard !names.isEmpty else { return [] }
        let held = try ingestedBytes()
        return names.map { folder + "/" + $0 }.filter { path in
            var info = stat()
            guard stat(path, &info) == 0 else { return false }
            // Not ingested yet, or another file now (a different inode; the first bytes are compared on ingest).
            guard let h = held[segmentKey(path)], h.identity.inode == Int64(info.st_ino) else { return info.st_size > 0 }
            return UInt64(info.st_size) > h.bytes
        }
    }

    /// Ingests what the segments of `folder` gained since the last ingest (segments still being written: their
    /// last line waits for its newline).
    public func ingestNewSegments(in folder: String) throws -> IngestReport {
        var report = IngestReport(inserted: 0, duplicates: 0, tornLine: nil)
        for path in try segmentsWithNewBytes(in: folder) { report += try ingest(segmentAt: path, from: .lastIngested, finished: false) }
        return report
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

    /// Ingests whole lines in one transaction, recording that the segment is read up to `offset`.
    func ingestLines(_ data: Data, path: String, firstLine: Int, key: String, identity: SegmentIdentity, offset: UInt64) throws -> IngestReport {
        let (events, torn) = try EventLog.parseSegment(data, path: path, firstLine: firstLine)
        let inserted: Int = try write { s in
            var new: [(event: Int, seq: Int64, input: Replay.Input)] = []
            for (i, e) in events.enumerated() {
                if try s.insert(e, ignoringDuplicate: true) {
                    new.append((i, s.db.lastInsertRowID, Replay.input(of: e)))
                } else if try !s.sameAsStored(e) {
                    throw EventLogError.conflictingDuplicate(path: path, id: e.id)
                }
            }
            try s.project(new.count, task: { new[$0].input.isAboutTask ? events[new[$0].event].task : nil }) { k, state in
                let e = events[new[k].event]
                Replay.apply(new[k].input, seq: new[k].seq, time: e.time, attempt: e.attempt, to: &state)
            }
            try s.recordIngested(segment: key, bytes: offset, identity: identity)
            return new.count
        }
        return IngestReport(inserted: inserted, duplicates: events.count - inserted, tornLine: torn)
    }

    /// Splits segment text into events; returns the line number of a torn last line (no newline, not an event),
    /// if one was skipped. Blank lines are skipped.
    static func parseSegment(_ data: Data, path: String, firstLine: Int = 1) throws -> ([RawEvent], Int?) {
        var events: [RawEvent] = []
        var torn: Int?
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            let bytes = buffer.bindMemory(to: UInt8.self)
            var start = 0
            var lineNo = firstLine - 1
            while start < bytes.count {
                lineNo += 1
                var end = start
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                let complete = end < bytes.count
                let line = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
                start = end + 1
                if line.allSatisfy({ $0 == " " || $0 == "\r" || $0 == "\t" }) { continue }
                do {
                    events.append(try RawEvent(ndjsonLine: line))
                } catch {
                    if !complete {
                        torn = lineNo
                        break
                    }
                    throw EventLogError.badSegment(path: path, line: lineNo, reason: "\(error)")
                }
            }
        }
        return (events, torn)
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
