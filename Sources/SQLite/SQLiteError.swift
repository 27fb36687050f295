internal import CSQLite
public import ClowdrErrors

/// An error reported by SQLite, with the result code SQLite gave, its message, and what we were doing.
///
/// The `code` is SQLite's primary result code (`SQLITE_BUSY` is 5, `SQLITE_CONSTRAINT` is 19, ...): stable
/// across versions, so callers can match on it. `extendedCode` carries the detail (`SQLITE_CONSTRAINT_UNIQUE`).
public struct SQLiteError: CodedError {
    /// `sqlite.<primary result code>`, e.g. `sqlite.5` for SQLITE_BUSY.
    public var errorCode: String { "sqlite.\(code)" }
    public var isUsageError: Bool { false }

    /// SQLite's primary result code (`extendedCode & 0xff`).
    public var code: Int32 { extendedCode & 0xff }
    /// SQLite's extended result code.
    public let extendedCode: Int32
    /// SQLite's own message.
    public let message: String
    /// What was being done: the statement, or the file being opened.
    public let context: String

    public init(extendedCode: Int32, message: String, context: String) {
        self.extendedCode = extendedCode
        self.message = message
        self.context = context
    }

    /// True for `SQLITE_BUSY` and `SQLITE_LOCKED`: another connection holds a lock; trying again may succeed.
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }

    /// True for `SQLITE_CONSTRAINT` (a trigger's `RAISE(ABORT, ...)` included).
    public var isConstraint: Bool { code == SQLITE_CONSTRAINT }

    public var description: String {
        "SQLite error \(extendedCode) (\(String(cString: sqlite3_errstr(extendedCode)))): \(message) [while: \(context)]"
    }
}
