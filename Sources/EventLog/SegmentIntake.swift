import Foundation
import SQLite

/// One segment being read: where it is, its name in the bookkeeping, who wrote it, which file it is.
struct SegmentSource {
    var path: String
    var key: String
    var role: SegmentRole
    var identity: SegmentIdentity
}

/// Line numbers in a segment, counted from its first byte: the lines before where an ingest began are counted only
/// when a number is needed (a refusal, a torn line), once.
struct SegmentLines {
    let path: String
    let fd: Int32
    /// A line start whose number is known.
    var known: (offset: UInt64, line: Int) = (0, 1)

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// The number of the line that starts at `offset`.
    mutating func number(at offset: UInt64) -> Int {
        if offset < known.offset { known = (0, 1) }
        var line = known.line
        var at = known.offset
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while at < offset {
            let want = Int(min(UInt64(buffer.count), offset - at))
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(at)) }
            guard got > 0 else { break }
            line += buffer[0..<got].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            at += UInt64(got)
        }
        known = (offset, line)
        return line
    }
}

extension EventLog {
    /// Takes the whole lines of `text`, which starts at byte `start` of the segment: each line is checked, then taken
    /// into the batch or refused (recorded by a `segment_refused` event, the segment kept aside), until a line that
    /// must wait. `last`: `text` ends the segment, which its writer finished (a last line without its newline is
    /// torn, skipped and reported). Returns the bytes consumed and whether a line waits.
    func take(_ text: Data, at start: UInt64, from source: SegmentSource, lines: inout SegmentLines, last: Bool, into batch: IngestBatch) throws
        -> (consumed: Int, waiting: Bool)
    {
        guard let checker = batch.checker else { return (0, false) }
        var consumed = 0
        var waiting = false
        try text.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            let bytes = buffer.bindMemory(to: UInt8.self)
            var from = 0
            while from < bytes.count {
                var end = bytes.count
                if let found = memchr(bytes.baseAddress! + from, 0x0A, bytes.count - from) {
                    end = UnsafeRawPointer(found) - UnsafeRawPointer(bytes.baseAddress!)
                }
                let complete = end < bytes.count
                let line = UnsafeBufferPointer(rebasing: bytes[from..<end])
                let lineStart = start + UInt64(from)
                let next = complete ? end + 1 : end
                defer { if !waiting { consumed = next } }
                from = next
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
                let event: RawEvent
                var figures: SampleFigures?
                if let fast = RawEvent.canonical(line) {
                    (event, figures) = fast
                } else {
                    do { event = try RawEvent(ndjsonLine: String(decoding: line, as: UTF8.self)) } catch {
                        if !complete && last {
                            batch.report.tornLine = batch.report.tornLine ?? lines.number(at: lineStart)
                            continue
                        }
                        try refuse(
                            nil, code: "segment.not_json", reason: "not an event: \(error)", at: lineStart, of: source, lines: &lines, into: batch)
                        continue
                    }
                }
                switch try checker.verdict(event, bytes: line.count, role: source.role, segmentKey: source.key, canonicalSample: figures != nil) {
                case .take: batch.chunk.add(consume event, path: source.path, figures: figures)
                case .wait: waiting = true
                case .refuse(let code, let reason):
                    try refuse(event, code: code, reason: reason, at: lineStart, of: source, lines: &lines, into: batch)
                }
                if waiting { break }
            }
        }
        return (consumed, waiting)
    }

    /// Records that the line at `offset` of a segment is not taken: a `segment_refused` event (once per line, however
    /// often the segment is read) and a copy of the segment as it is, under `refused/` in the experiment folder.
    func refuse(
        _ event: RawEvent?, code: String, reason: String, at offset: UInt64, of source: SegmentSource, lines: inout SegmentLines,
        into batch: IngestBatch
    ) throws {
        let segment = source.key
        let recorded = try read {
            try db.scalar(
                "SELECT count(*) FROM events WHERE type = 'segment_refused' AND json_extract(payload, '$.segment') = ? AND json_extract(payload, '$.offset') = ?",
                [.text(segment), .integer(Int64(offset))])?.int64 ?? 0
        }
        guard recorded == 0, !batch.refusedOffsets.contains("\(segment)@\(offset)") else { return }
        batch.refusedOffsets.insert("\(segment)@\(offset)")
        let kept = try keep(source, batch: batch)
        let refusal = SegmentRefused(
            segment: segment, line: lines.number(at: offset), offset: Int64(offset), code: code, reason: reason, kept: kept,
            writer: source.role.name, nativeID: source.role.nativeID, host: try host(of: source, batch: batch), type: event?.type,
            version: event?.version, task: event?.task, attempt: event?.attempt)
        batch.chunk.add(try batch.factory.make(.segmentRefused(refusal)).raw(), path: source.path)
        batch.chunk.refusalEvents += 1
        batch.report.refused.append(refusal)
    }

    /// The host a segment's worker ran on: its own `task_started` when this ingest read it, else the host the log
    /// records for an attempt of the native id the segment is named after.
    func host(of source: SegmentSource, batch: IngestBatch) throws -> String? {
        if let known = batch.checker?.host(of: source.key) { return known }
        guard let id = source.role.nativeID else { return nil }
        return try read {
            try db.scalar(
                "SELECT host FROM attempts WHERE replace(native_id, ':', '_') = ? AND host IS NOT NULL LIMIT 1", [.text(id)])?.string
        }
    }

    /// A copy of the segment as it is now, in `refused/` beside the log (written under a temporary name, then
    /// renamed): the evidence of what was refused, once per segment and ingest. Returns its path relative to the
    /// experiment folder.
    func keep(_ source: SegmentSource, batch: IngestBatch) throws -> String {
        let folder = (path as NSString).deletingLastPathComponent
        let relative = "refused/" + (source.path as NSString).lastPathComponent
        guard !batch.kept.contains(source.key) else { return relative }
        let target = folder + "/" + relative
        let temporary = target + ".tmp-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: folder + "/refused", withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: temporary)
            try FileManager.default.copyItem(atPath: source.path, toPath: temporary)
            guard rename(temporary, target) == 0 else { throw EventLogError.io(path: target, reason: String(cString: strerror(errno))) }
        } catch {
            throw EventLogError.io(path: target, reason: "cannot keep a copy of the refused segment \(source.path): \(error)")
        }
        batch.kept.insert(source.key)
        return relative
    }
}
