import Foundation
import SQLite

/// One experiment's append-only event log: a single SQLite file.
///
/// - Opened with explicit pragmas that are read back and checked: `journal_mode=WAL` (readers never block the
///   writer), `synchronous=FULL` (a committed transaction survives power loss), `foreign_keys=ON`, a busy timeout.
/// - `append` writes a batch in one transaction and returns once it is durable; the projection tables (`tasks`,
///   `attempts`) are updated in the same transaction by the same reducer that `Replay` uses.
/// - Several processes may append at once: each batch takes the write lock with `BEGIN IMMEDIATE`, waits up to
///   the busy timeout, and is retried on `SQLITE_BUSY`.
///
/// An `EventLog` may be shared between threads; its calls are serialised.
public final class EventLog: EventSink, @unchecked Sendable {
    /// How to open a log.
    public enum Mode: Sendable {
        /// Create the file if needed, migrate, read and write.
        case create
        /// Open an existing log to read and write (migrating it if it is older).
        case readWrite
        /// Open an existing log to read only: never writes it, never takes a write lock, never migrates it. In a
        /// folder this user cannot write (read-only media, a colleague's folder), it is opened as immutable, so
        /// nothing is created beside it either.
        case readOnly
    }

    /// The conventional file name of a log inside an experiment folder.
    public static let fileName = "clowdr.db"

    /// The file's path.
    public let path: String
    public let mode: Mode
    /// How SQLite has the file open (`.immutable` for a reader in a folder it cannot write).
    let connectionMode: Connection.Mode
    let lock = Lock()
    let db: Connection
    var cached: Statements?

    /// Milliseconds a statement waits for another process's lock before SQLite reports it busy.
    public static let busyTimeoutMilliseconds: Int32 = 10_000

    /// Opens the log at `path` (a `clowdr.db` file, or an experiment folder holding one).
    public init(path: String, mode: Mode = .readWrite) throws {
        var file = path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            file = (path as NSString).appendingPathComponent(EventLog.fileName)
        }
        if mode != .create, !FileManager.default.fileExists(atPath: file) { throw EventLogError.notFound(path: path) }
        self.path = file
        self.mode = mode
        connectionMode = EventLog.connectionMode(mode, file: file)
        do {
            db = try Connection(path: file, mode: connectionMode)
            db.setBusyTimeout(milliseconds: EventLog.busyTimeoutMilliseconds)
            try configure()
            if mode == .readOnly {
                let version = Int(try db.scalar("PRAGMA user_version")?.int64 ?? 0)
                guard version >= Migrations.oldestReadable && version <= Migrations.latest else {
                    throw EventLogError.incompatible(
                        path: file,
                        reason: "schema version \(version), this clowdr reads \(Migrations.oldestReadable) to \(Migrations.latest)"
                            + (version < Migrations.latest
                                ? "; upgrade it with `clowdr upgrade \((file as NSString).deletingLastPathComponent)` (which writes the log)"
                                : "; use a newer clowdr"))
                }
            } else {
                _ = try EventLog.retryingBusy { try Migrations.migrate(db) }
            }
        } catch let e as SQLiteError {
            throw EventLogError.sqlite(path: file, e)
        }
    }

    /// How SQLite opens the file: a reader in a folder it cannot write opens it immutable (a plain read-only open
    /// of a WAL log would need to create its `-shm` file there).
    static func connectionMode(_ mode: Mode, file: String) -> Connection.Mode {
        switch mode {
        case .create: return .create
        case .readWrite: return .readWrite
        case .readOnly:
            // A writer that did not close cleanly left its -wal (events not yet in the main file): SQLite reads it
            // read-only then. Immutable would not see it.
            let folder = (file as NSString).deletingLastPathComponent
            let writable = access(folder.isEmpty ? "." : folder, W_OK) == 0 && access(file, W_OK) == 0
            return writable || access(file + "-wal", F_OK) == 0 ? .readOnly : .immutable
        }
    }

    /// Sets the pragmas and reads each one back.
    private func configure() throws {
        func check(_ pragma: String, _ expected: String) throws {
            let found = try db.scalar("PRAGMA \(pragma)")?.description.lowercased() ?? "nothing"
            guard found == expected else { throw EventLogError.pragmaRefused(path: path, pragma: pragma, expected: expected, found: found) }
        }
        let immutable = connectionMode == .immutable
        if mode != .readOnly {
            let journal = try db.scalar("PRAGMA journal_mode=WAL")?.description.lowercased() ?? "nothing"
            guard journal == "wal" else { throw EventLogError.pragmaRefused(path: path, pragma: "journal_mode", expected: "wal", found: journal) }
        }
        try db.execute("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON")
        if mode != .readOnly { try db.execute("PRAGMA cache_size=-32768") }
        // An immutable file is read as it is, without its journal (there is none: it was closed cleanly).
        if !immutable { try check("journal_mode", "wal") }
        try check("synchronous", "2")
        try check("foreign_keys", "1")
        try check("busy_timeout", String(EventLog.busyTimeoutMilliseconds))
    }

    /// The pragmas as they are on this connection (for `fsck` and tests).
    public func pragmas() throws -> [String: String] {
        try lock.withLock {
            var out: [String: String] = [:]
            for p in ["journal_mode", "synchronous", "foreign_keys", "busy_timeout", "user_version"] {
                out[p] = try db.scalar("PRAGMA \(p)")?.description
            }
            return out
        }
    }
}
