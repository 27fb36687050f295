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
        /// The lines not taken, and why (each recorded by a `segment_refused` event).
        public var refused: [SegmentRefused]

        public init(inserted: Int, duplicates: Int, tornLine: Int?, refused: [SegmentRefused] = []) {
            self.inserted = inserted
            self.duplicates = duplicates
            self.tornLine = tornLine
            self.refused = refused
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
        let batch = IngestBatch(checker: try SegmentChecker(log: self, segments: (path as NSString).deletingLastPathComponent))
        try read(
            segment: path, role: SegmentRole.of(path: path, byHand: true), from: start, finished: finished,
            held: start == .lastIngested ? try ingestedBytes() : [:], into: batch)
        try commit(batch)
        return batch.report
    }

    /// Reads a segment's new whole lines into `batch`, committing the batch whenever it holds a chunk's worth.
    func read(
        segment path: String, key known: String? = nil, role: SegmentRole, from start: IngestStart, finished: Bool,
        held: [String: (bytes: UInt64, identity: SegmentIdentity)], into batch: IngestBatch
    ) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        // A segment found by a look and removed since (another ingest read it to its sealed end): nothing to read.
        if fd < 0 && errno == ENOENT && known != nil { return }
        guard fd >= 0 else { throw EventLogError.io(path: path, reason: "cannot read the segment file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw EventLogError.io(path: path, reason: "cannot stat the segment file") }
        let key = known ?? segmentKey(path)
        /// Up to `count` bytes from `at` (fewer at the end of the file).
        func bytes(_ count: Int, at: UInt64) throws -> Data {
            var data = Data(count: count)
            let n = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, count, off_t(at)) }
            guard n >= 0 else { throw EventLogError.io(path: path, reason: "cannot read the segment file: \(String(cString: strerror(errno)))") }
            data.count = n
            return data
        }
        // A segment read before: its first bytes, which name it. Otherwise (most are a few KiB) the first read takes
        // the whole file, and its first bytes name it.
        let size = UInt64(info.st_size)
        let readBefore = start == .lastIngested && held[key] != nil
        let firstLength =
            readBefore ? SegmentIdentity.headBytes : Int(min(UInt64(EventLog.ingestChunkBytes), max(size, UInt64(SegmentIdentity.headBytes))))
        var first = try bytes(firstLength, at: 0)
        let identity = SegmentIdentity(inode: Int64(info.st_ino), head: first.prefix(SegmentIdentity.headBytes))
        var offset: UInt64 = 0
        if start == .lastIngested, let mark = held[key], mark.identity == identity, mark.bytes <= size { offset = mark.bytes }
        if offset > 0 { first = offset < UInt64(first.count) ? first.dropFirst(Int(offset)) : Data() }
        var pending = Data()
        var lines = SegmentLines(path: path, fd: fd)
        let source = SegmentSource(path: path, key: key, role: role, identity: identity)
        /// Takes the whole lines of `text`; false when a line waits (the segment is read again from it next time).
        func add(_ text: Data, last: Bool) throws -> Bool {
            let (consumed, waiting) = try take(text, at: offset, from: source, lines: &lines, last: last, into: batch)
            offset += UInt64(consumed)
            batch.chunk.mark(SegmentMark(key: key, bytes: offset, identity: identity, sealed: false), textBytes: consumed)
            if batch.chunk.textBytes >= EventLog.ingestChunkBytes { try commit(batch) }
            return !waiting
        }
        var position = offset + UInt64(first.count)
        var next: Data? = first.isEmpty ? nil : first
        while true {
            let chunk: Data
            if let n = next {
                chunk = n
                next = nil
            } else {
                // A sealed segment read to the size it had when opened has no more (its writer is done with it).
                if position >= size && SegmentWriter.isSealed(info) { break }
                // No larger than what the file holds, at least 64 KiB (it may have grown), at most a chunk.
                let left = size > position ? Int(size - position) : 0
                chunk = try bytes(min(EventLog.ingestChunkBytes, max(left, 65536)), at: position)
                position += UInt64(chunk.count)
            }
            if chunk.isEmpty { break }
            if pending.isEmpty { pending = chunk } else { pending.append(chunk) }
            // The whole lines so far; the rest waits for the next read.
            let whole = pending.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> Int in
                var k = b.count
                while k > 0 && b[k - 1] != 0x0A { k -= 1 }
                return k
            }
            guard whole > 0 else { continue }
            guard try add(pending.prefix(whole), last: false) else { return }
            pending = Data(pending.dropFirst(whole))
        }
        if finished && !pending.isEmpty { guard try add(pending, last: true) else { return } }
        // Sealed by its writer and read to its end: never looked at again while its folder is unchanged.
        if SegmentWriter.isSealed(info) && offset == UInt64(info.st_size) {
            batch.chunk.marks[key] = SegmentMark(key: key, bytes: offset, identity: identity, sealed: true)
            if known != nil && role.isOnlyCopy(path) { batch.chunk.removable.append((path, Int64(info.st_ino), offset)) }
        }
    }

    /// Adds the batch's events to the log in one transaction, with how far each of its segments is now read. A
    /// batch with a committer hands them to it and returns while they are committed (the previous commit settled
    /// first): the next events are read meanwhile.
    func commit(_ batch: IngestBatch) throws {
        guard !batch.chunk.marks.isEmpty else { return }
        let chunk = batch.takeChunk()
        guard let committer = batch.committer else { return batch.count(try insert(chunk)) }
        batch.count(try committer.settle())
        committer.start { try self.insert(chunk) }
    }

    /// Waits for the batch's commit still under way, if any, and counts it.
    func settle(_ batch: IngestBatch) throws {
        if let committer = batch.committer { batch.count(try committer.settle()) }
    }

    /// Inserts a chunk's events in one transaction with how far each of its segments is now read, then removes the
    /// segments it read to their sealed end.
    func insert(_ chunk: IngestChunk) throws -> IngestChunk.Count {
        // Events are read in place (a copy of an event retains each of its strings).
        let inserted: Int = try chunk.events.withUnsafeBufferPointer { events in
            try write { s in
                var new = NewRows()
                // Most ingests hold only new events: all of them in multi-row INSERTs, as append does. An event the
                // log already holds (a segment read again) undoes that attempt, and the events go one by one.
                try s.db.execute("SAVEPOINT ingest_batch")
                do {
                    let seqs = try s.insertAll(events.count) { i, arena in PendingRow(events[i], into: &arena) }
                    try s.db.execute("RELEASE ingest_batch")
                    for (i, seq) in seqs.enumerated() { new.add(i, seq, events[i], input: chunk.inputs[i]) }
                } catch let e as SQLiteError where e.code == 19 {  // SQLITE_CONSTRAINT: an id already in the log
                    try s.db.execute("ROLLBACK TO ingest_batch")
                    try s.db.execute("RELEASE ingest_batch")
                    for i in events.indices {
                        if try s.insert(events[i], ignoringDuplicate: true) {
                            new.add(i, s.db.lastInsertRowID, events[i], input: chunk.inputs[i])
                        } else if try !s.sameAsStored(events[i]) {
                            throw EventLogError.conflictingDuplicate(path: chunk.paths[chunk.pathOf[i]], id: events[i].id)
                        }
                    }
                }
                try s.project(new.count, task: { new.inputs[$0].isAboutTask ? events[new.event[$0]].task : nil }) { k, state in
                    let e = new.event[k]
                    Replay.apply(new.inputs[k], seq: new.seq[k], time: events[e].time, attempt: events[e].attempt, to: &state)
                }
                for mark in chunk.marks.values { try s.recordIngested(mark) }
                return new.count
            }
        }
        removeSealed(chunk.removable)
        return IngestChunk.Count(inserted: inserted - chunk.refusalEvents, duplicates: chunk.events.count - inserted)
    }

    /// Removes segments whose every event the log now holds, committed (`synchronous=FULL`), and whose writer
    /// sealed them: a cluster's shared filesystem keeps no file per array element once its events are in the log.
    /// Each is checked once more just before: still the same file, still sealed, no larger (a requeued element's
    /// worker unseals its segment before writing again, and writes to a new file when this one is gone).
    /// Each folder is opened once and its segments named relative to it (one lookup each, not the whole path's).
    func removeSealed(_ segments: [(path: String, inode: Int64, bytes: UInt64)]) {
        var folder: (path: String, fd: Int32)?
        defer { if let folder { close(folder.fd) } }
        for s in segments {
            let parent = (s.path as NSString).deletingLastPathComponent
            if folder?.path != parent {
                if let folder { close(folder.fd) }
                folder = (parent, open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC))
            }
            guard let dir = folder, dir.fd >= 0 else { continue }
            let name = (s.path as NSString).lastPathComponent
            var info = stat()
            guard fstatat(dir.fd, name, &info, 0) == 0, Int64(info.st_ino) == s.inode, SegmentWriter.isSealed(info), UInt64(info.st_size) == s.bytes
            else { continue }
            unlinkat(dir.fd, name, 0)
        }
    }

    /// The segments of `folder` (`*.ndjson`) that hold bytes the log has not ingested: a look at each file's size
    /// and the log's bookkeeping, without reading any segment.
    public func segmentsWithNewBytes(in folder: String) throws -> [String] {
        try look(at: folder).pending.map(\.path)
    }

    /// What a look at a segment folder found.
    struct SegmentLook {
        /// The segments with bytes (or a seal) the log lacks, with their keys in the bookkeeping.
        var pending: [(path: String, key: String)] = []
        /// The folder's key and modification time, to remember when the look found every file ingested to its end
        /// and that time is safely past (nil otherwise, or when it is remembered already).
        var folderMark: (key: String, mtime: Int64)?
    }

    /// Looks at a segment folder. While the folder keeps the modification time remembered for it, only the
    /// segments not sealed are looked at; otherwise every file of the folder is.
    func look(at folder: String) throws -> SegmentLook {
        var info = stat()
        guard stat(folder, &info) == 0 else { return SegmentLook() }
        let mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        let folderKey = segmentKey(folder)
        let prefix = String(segmentKey(folder + "/x").dropLast())
        // A log older than schema 006 has no folder times: every look is a full one, and nothing is remembered.
        let (remembers, quick) = try read { () -> (Bool, [String: IngestedSize]?) in
            guard try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'segment_folders'")?.int64 == 1 else { return (false, nil) }
            guard try db.scalar("SELECT mtime FROM segment_folders WHERE folder = ?", [.text(folderKey)])?.int64 == mtime else { return (true, nil) }
            return (true, try ingestedSizes(where: "sealed = 0"))
        }
        if let open = quick {
            // No file was created, removed or renamed in the folder since it was seen whole: only open segments grow.
            var look = SegmentLook()
            for (key, size) in open where key.hasPrefix(prefix) {
                let name = String(key.dropFirst(prefix.count))
                var file = stat()
                guard stat(folder + "/" + name, &file) == 0, Self.hasNews(file, size) else { continue }
                look.pending.append((folder + "/" + name, key))
            }
            look.pending = Self.inIngestOrder(look.pending)
            return look
        }
        var (look, whole) = try lookAtEveryFile(in: folder, prefix: prefix)
        // A file created in the same clock tick as the time read would not change it: only a time safely past counts.
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        if remembers && whole && look.pending.isEmpty && mtime < now - 2_000_000_000 { look.folderMark = (folderKey, mtime) }
        return look
    }

    /// Looks at every `*.ndjson` file of `folder`; `whole` says whether each one is known to the bookkeeping.
    func lookAtEveryFile(in folder: String, prefix: String) throws -> (found: SegmentLook, whole: Bool) {
        guard let dir = opendir(folder) else { return (SegmentLook(), false) }
        defer { closedir(dir) }
        let fd = dirfd(dir)
        var sizes: [String: IngestedSize]?
        var found = SegmentLook()
        var whole = true
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            guard name.hasSuffix(".ndjson") else { continue }
            var info = stat()
            guard fstatat(fd, name, &info, 0) == 0, info.st_size > 0 else {
                whole = false  // an empty segment has no row yet: its first bytes would go unseen
                continue
            }
            if sizes == nil { sizes = try read { try ingestedSizes(where: nil) } }
            if let known = sizes![prefix + name], !Self.hasNews(info, known) { continue }
            found.pending.append((folder + "/" + name, prefix + name))
        }
        found.pending = Self.inIngestOrder(found.pending)
        return (found, whole)
    }

    /// The order in which segments are ingested: controllers' segments (submissions) first, then by path. Whether a
    /// segment is a controller's is read once per segment, not once per comparison.
    static func inIngestOrder(_ pending: [(path: String, key: String)]) -> [(path: String, key: String)] {
        let prefix = Array(ExperimentLayout.controllerSegmentPrefix.utf8)
        func isController(_ path: String) -> Bool {
            let name = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path.utf8[path.utf8.index(after: $0)...] } ?? path.utf8[...]
            return name.starts(with: prefix)
        }
        return pending.map { (controller: isController($0.path), segment: $0) }
            .sorted { $0.controller != $1.controller ? $0.controller : $0.segment.path < $1.segment.path }
            .map(\.segment)
    }

    /// Whether a segment holds something its bookkeeping row lacks: more bytes, another file (a different inode;
    /// the first bytes are compared on ingest), or a seal not yet recorded.
    static func hasNews(_ file: stat, _ known: IngestedSize) -> Bool {
        if known.inode != Int64(file.st_ino) || UInt64(file.st_size) > known.bytes { return true }
        return !known.sealed && SegmentWriter.isSealed(file) && UInt64(file.st_size) == known.bytes
    }

    /// Ingests what the segments of `folder` gained since the last ingest (segments still being written: their
    /// last line waits for its newline). Small segments share transactions.
    /// `progress` is told after each segment is read (most calls come before its events are committed).
    public func ingestNewSegments(in folder: String, progress: ((IngestProgress) -> Void)? = nil) throws -> IngestReport {
        try ingest(try look(at: folder), progress: progress)
    }

    /// How far an ingest of many segments is: segments read of those found with new bytes.
    public struct IngestProgress: Sendable, Equatable {
        public var segmentsRead: Int
        public var segments: Int
    }

    /// Ingests what a look found (and remembers the folder's time when the look says to).
    func ingest(_ look: SegmentLook, progress: ((IngestProgress) -> Void)? = nil) throws -> IngestReport {
        if let mark = look.folderMark { try rememberFolder(mark) }
        let batch = IngestBatch(checker: nil)
        guard !look.pending.isEmpty else { return batch.report }
        let held = try ingestedBytes()
        let checker = try SegmentChecker(log: self, segments: look.pending.first.map { ($0.path as NSString).deletingLastPathComponent } ?? "")
        // Many new segments: what the log says of every attempt, read at once rather than attempt by attempt.
        if look.pending.count > 256 { try checker.prefetch() }
        batch.checker = checker
        // Many new segments: each chunk is committed on a thread of its own while the next one is read and checked.
        if look.pending.count > 1 { batch.committer = ChunkCommitter() }
        defer { _ = try? settle(batch) }  // nothing of the log used by a commit still running once this returns
        for (n, (path, key)) in look.pending.enumerated() {
            try read(segment: path, key: key, role: SegmentRole.of(path: path), from: .lastIngested, finished: false, held: held, into: batch)
            progress?(IngestProgress(segmentsRead: n + 1, segments: look.pending.count))
        }
        try commit(batch)
        try settle(batch)
        return batch.report
    }

    /// Remembers a folder's modification time as one at which every file in it was ingested to its end.
    func rememberFolder(_ mark: (key: String, mtime: Int64)) throws {
        try write { s in
            _ = try s.db.rows(
                "INSERT INTO segment_folders (folder, mtime) VALUES (?, ?) ON CONFLICT(folder) DO UPDATE SET mtime = excluded.mtime",
                [.text(mark.key), .integer(mark.mtime)])
        }
    }

    /// How far each segment was ingested, its inode and whether it is sealed, by key (`filter`: an SQL condition
    /// on the rows), without the rest of its identity: the quick look. Call inside `read`.
    func ingestedSizes(where filter: String?) throws -> [String: IngestedSize] {
        guard try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'ingested_segments'")?.int64 == 1 else { return [:] }
        let sealed = try db.scalar("SELECT count(*) FROM pragma_table_info('ingested_segments') WHERE name = 'sealed'")?.int64 == 1
        var out: [String: IngestedSize] = [:]
        let stmt = try db.prepare(
            "SELECT segment, bytes, inode, \(sealed ? "sealed" : "0") FROM ingested_segments\(filter.map { " WHERE " + $0 } ?? "")")
        while try stmt.step() { out[stmt.string(0)] = IngestedSize(bytes: UInt64(stmt.int64(1)), inode: stmt.int64(2), sealed: stmt.int64(3) != 0) }
        return out
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
}

/// How far one segment is read, and whether that is its end (sealed by its writer, read to its last byte).
struct SegmentMark {
    var key: String
    var bytes: UInt64
    var identity: SegmentIdentity
    var sealed: Bool
}

/// A segment's row in the bookkeeping, as the quick look reads it.
struct IngestedSize {
    var bytes: UInt64
    var inode: Int64
    var sealed: Bool
}

/// An ingest under way: what its lines are checked against, what it reported, and the chunk being filled (the
/// events read since the last commit).
final class IngestBatch {
    /// What each line is checked against (nil only for a batch that reads nothing).
    var checker: SegmentChecker?
    /// The events read since the last commit, with how far each segment will then be read.
    private(set) var chunk = IngestChunk()
    var report = EventLog.IngestReport(inserted: 0, duplicates: 0, tornLine: nil)
    /// Commits chunks while the next is read (an ingest of many segments); nil: each commit is done in place.
    var committer: ChunkCommitter?
    /// The segments already kept aside by this ingest (one copy each), and the lines refused (`key@offset`).
    var kept: Set<String> = []
    var refusedOffsets: Set<String> = []
    /// Makes the `segment_refused` events.
    var factory = EventFactory()

    init(checker: SegmentChecker?) { self.checker = checker }

    /// The chunk filled so far, handed over; the batch starts a new one.
    func takeChunk() -> IngestChunk {
        defer { chunk = IngestChunk() }
        return chunk
    }

    /// Counts a committed chunk in the report.
    func count(_ c: IngestChunk.Count) {
        report.inserted += c.inserted
        report.duplicates += c.duplicates
    }
}

/// What one transaction of an ingest inserts: the events read since the last one, and how far each segment is then
/// read. Filled by the thread that reads segments, then handed whole to the one that commits, never used by both at
/// once.
final class IngestChunk: @unchecked Sendable {
    var events: [RawEvent] = []
    /// Each event's replay input when the reading of its line gave it (a canonical sample's figures), else nil.
    var inputs: [Replay.Input?] = []
    /// The segment each event was read from: an index in `paths`.
    var pathOf: [Int] = []
    var paths: [String] = []
    var marks: [String: SegmentMark] = [:]
    /// Segments read to their sealed end that are the only copy of their events (removed once committed).
    var removable: [(path: String, inode: Int64, bytes: UInt64)] = []
    /// Bytes of segment text read into it.
    var textBytes = 0
    /// `segment_refused` events in `events` (added to the log, not counted as the segments' events).
    var refusalEvents = 0

    /// Events added to the log (not counting `segment_refused`) and events it held already.
    struct Count {
        var inserted = 0
        var duplicates = 0
    }

    func add(_ event: consuming RawEvent, path: String, figures: SampleFigures? = nil) {
        if paths.last != path { paths.append(path) }
        events.append(consume event)
        inputs.append(figures.map { .sample($0) })
        pathOf.append(paths.count - 1)
    }

    func mark(_ mark: SegmentMark, textBytes n: Int) {
        marks[mark.key] = mark
        textBytes += n
    }
}

/// Commits an ingest's chunks one at a time on a thread of its own, so that reading and checking the next chunk
/// (a core's work) overlaps writing this one (SQLite's and the disk's).
final class ChunkCommitter: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private var running = false
    private var outcome: Result<IngestChunk.Count, any Error> = .success(IngestChunk.Count())

    /// Waits for the commit under way, if any: what it inserted, or its error.
    func settle() throws -> IngestChunk.Count {
        guard running else { return IngestChunk.Count() }
        finished.wait()
        running = false
        return try outcome.get()
    }

    /// Starts a commit; the previous one must be settled.
    func start(_ work: @escaping @Sendable () throws -> IngestChunk.Count) {
        precondition(!running, "a commit is under way")
        running = true
        let thread = Thread { [self] in
            outcome = Result { try work() }
            finished.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// The events of a batch that the log did not hold: each one's index in the batch, its position in the log and
/// what it changes, in parallel arrays.
struct NewRows {
    var event: [Int] = []
    var seq: [Int64] = []
    var inputs: [Replay.Input] = []
    var count: Int { event.count }

    mutating func add(_ index: Int, _ position: Int64, _ e: borrowing RawEvent, input: Replay.Input? = nil) {
        event.append(index)
        seq.append(position)
        inputs.append(input ?? Replay.input(of: e))
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
    public func ingestNewSegments(progress: ((EventLog.IngestProgress) -> Void)? = nil) throws -> NewSegments {
        guard FileManager.default.fileExists(atPath: segments) else { return .nothingNew }
        let look = try EventLog(path: log, mode: .readOnly).look(at: segments)
        let writable = access(directory, W_OK) == 0 && access(log, W_OK) == 0
        guard !look.pending.isEmpty else {
            // Everything is read: remember the folder's time, so that the next look stats only open segments.
            if let mark = look.folderMark, writable { try EventLog(path: log, mode: .readWrite).rememberFolder(mark) }
            return .nothingNew
        }
        guard writable else { return .unwritable(segments: look.pending.count) }
        let writer = try EventLog(path: log, mode: .readWrite)
        let report = try writer.ingest(look, progress: progress)  // what the look found: the folder is not looked at twice
        try writer.checkpoint()
        return .ingested(report)
    }
}
