#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes events to a segment file: newline-delimited JSON, one event per line, appended and fsync'ed.
///
/// This is how a worker on another machine (a Slurm node, an AWS Batch container) records its attempts without
/// touching the experiment's SQLite file; the controller ingests segments idempotently (`EventLog.ingest`).
/// Each batch goes out in one `write` and is fsync'ed before `append` returns, so a crash can tear at most the
/// last line, which ingest recognises and skips.
public final class SegmentWriter: EventSink, @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let lock = Lock()
    private var failure: (any Error)?

    /// Opens (creating or appending to) the segment at `path`. A segment an earlier writer sealed (a requeued
    /// element writing again) is unsealed, and its folder's time set to now, so that readers look at it again.
    public init(path: String) throws {
        self.path = path
        self.fd = try Self.openUnsealed(path)
    }

    /// Opens the segment for appending, unsealed. A sealed segment may be removed by an ingest that read it to its
    /// end: the descriptor is kept only once the path is seen to still name its file (else a new one is created).
    static func openUnsealed(_ path: String) throws -> Int32 {
        for _ in 0..<3 {
            var fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 && errno == EACCES && chmod(path, 0o644) == 0 { fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC) }
            if fd < 0 && errno == ENOENT { continue }  // removed between the two opens
            guard fd >= 0 else {
                throw EventLogError.io(path: path, reason: "cannot open the segment for writing: \(String(cString: strerror(errno)))")
            }
            var info = stat()
            if fstat(fd, &info) == 0 && Self.isSealed(info) {
                fchmod(fd, 0o644)
                let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
                utimensat(AT_FDCWD, folder.isEmpty ? "/" : folder, nil, 0)
            }
            var named = stat()
            if stat(path, &named) == 0 && named.st_ino == info.st_ino && named.st_dev == info.st_dev { return fd }
            close(fd)
        }
        throw EventLogError.io(path: path, reason: "cannot open the segment for writing: it was removed three times while being opened")
    }

    /// Seals the segment: its writer adds nothing more. The file becomes read-only, and a reader that has read it
    /// to its end never looks at it again while its folder is unchanged.
    public func seal() throws {
        try lock.withLock {
            guard fchmod(fd, 0o444) == 0 else {
                throw EventLogError.io(path: path, reason: "cannot seal the segment (chmod): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Whether a segment file is sealed: no write permission for anyone.
    static func isSealed(_ info: stat) -> Bool { info.st_mode & 0o222 == 0 }

    deinit { close(fd) }

    public func append(_ events: [Event]) throws {
        var bytes: [UInt8] = []
        for e in events {
            try e.raw().writeNDJSONLine(into: &bytes)
            bytes.append(UInt8(ascii: "\n"))
        }
        try lock.withLock {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw EventLogError.io(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
            bytes.removeAll()
            guard fsync(fd) == 0 else { throw EventLogError.io(path: path, reason: "fsync failed: \(String(cString: strerror(errno)))") }
        }
    }
}

extension SegmentWriter: QueuedEventSink {
    /// Writes at once (durable when it returns); a failure is kept for `flush`.
    public func post(_ events: [Event]) {
        do { try append(events) } catch { lock.withLock { if failure == nil { failure = error } } }
    }

    public func flush() throws {
        if let failure = lock.withLock({ failure }) { throw failure }
    }
}
