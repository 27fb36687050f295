internal import CSQLite

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One connection to an SQLite database file.
///
/// A connection is not thread-safe: whoever owns it serialises its use (the event log keeps it behind a mutex).
/// Statements prepared from it must not outlive it.
public final class Connection {
    /// How a file is opened.
    public enum Mode: Sendable {
        /// Read and write; create the file if it does not exist.
        case create
        /// Read and write an existing file.
        case readWrite
        /// Read only: never takes a write lock, never creates the file.
        case readOnly
        /// Read only, for a file that cannot change while it is open (on read-only media, in a folder this user
        /// cannot write): SQLite takes no lock and makes no `-shm` or `-wal` file beside it.
        case immutable
    }

    let handle: OpaquePointer
    /// The file this connection opened (`:memory:` for an in-memory database).
    public let path: String

    /// Process-wide configuration, applied once before the first open: SQLite's memory statistics are off (they
    /// take a global mutex on every allocation, and nothing here reads them).
    private static let configured: Bool = clowdr_sqlite3_disable_memstatus() == SQLITE_OK

    /// Opens (or creates) the database at `path`.
    public init(path: String, mode: Mode = .create) throws(SQLiteError) {
        _ = Self.configured
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        switch mode {
        case .create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        case .readWrite: flags |= SQLITE_OPEN_READWRITE
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        case .immutable: flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
        }
        let name = mode == .immutable ? Connection.uri(path) + "?immutable=1" : path
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(extendedCode: rc, message: message, context: "open \(path)")
        }
        self.handle = db
        self.path = path
    }

    deinit { sqlite3_close_v2(handle) }

    /// `file:` and the path, percent-encoded where SQLite's URI parser would read a character otherwise.
    static func uri(_ path: String) -> String {
        var out = "file:"
        for b in path.utf8 {
            let safe = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || "/-_.~".utf8.contains(b)
            out += safe ? String(UnicodeScalar(b)) : "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
        }
        return out
    }

    func error(_ rc: Int32, context: String) -> SQLiteError {
        SQLiteError(extendedCode: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), context: context)
    }

    /// Runs one or more SQL statements that return no rows of interest.
    public func execute(_ sql: String) throws(SQLiteError) {
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errmsg)
        if rc != SQLITE_OK {
            let message = errmsg.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(errmsg)
            throw SQLiteError(extendedCode: sqlite3_extended_errcode(handle), message: message, context: sql)
        }
    }

    /// Prepares a statement for repeated use.
    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        try Statement(connection: self, sql: sql)
    }

    /// Runs a query and returns every row (for small results: schema checks, pragmas, tests).
    public func rows(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> [[SQLiteValue]] {
        let stmt = try prepare(sql)
        try stmt.bind(values)
        var out: [[SQLiteValue]] = []
        while try stmt.step() { out.append(stmt.row()) }
        return out
    }

    /// The first column of the first row, or nil when there is no row.
    public func scalar(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> SQLiteValue? {
        let stmt = try prepare(sql)
        try stmt.bind(values)
        return try stmt.step() ? stmt.value(0) : nil
    }

    /// Sets how long a statement waits for another connection's lock before giving up with `SQLITE_BUSY`.
    public func setBusyTimeout(milliseconds: Int32) {
        sqlite3_busy_timeout(handle, milliseconds)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// The rowid of the last row inserted on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// True while a transaction is open.
    public var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Runs `body` in a transaction, committing when it returns and rolling back when it throws.
    ///
    /// `immediate` takes the write lock at the start (`BEGIN IMMEDIATE`), so a writer never fails half-way with a
    /// lock upgrade conflict; with several writers it waits up to the busy timeout, then `SQLITE_BUSY`.
    public func transaction<R>(immediate: Bool = true, _ body: () throws -> R) throws -> R {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if inTransaction { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Copies this whole database into a new file at `path`, consistently, even while others write to it
    /// (SQLite's online backup API).
    public func backup(to path: String) throws(SQLiteError) {
        let dest = try Connection(path: path, mode: .create)
        guard let backup = sqlite3_backup_init(dest.handle, "main", handle, "main") else {
            throw dest.error(sqlite3_errcode(dest.handle), context: "backup to \(path)")
        }
        var rc: Int32
        repeat {
            rc = sqlite3_backup_step(backup, -1)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { sqlite3_sleep(10) }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else { throw dest.error(rc, context: "backup to \(path)") }
    }

    /// The version of the SQLite library in use, e.g. "3.40.1".
    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }
}
