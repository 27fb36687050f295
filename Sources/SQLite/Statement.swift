internal import CSQLite

/// SQLite asks for this destructor when it must copy the bytes bound to a parameter.
let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement. Bind parameters (1-based), `step()` through rows, read columns (0-based), `reset()` to reuse.
///
/// Not thread-safe: a statement belongs to its connection, used by one thread at a time.
public final class Statement {
    let handle: OpaquePointer
    /// The SQL text, for error messages.
    public let sql: String
    unowned let connection: Connection

    init(connection: Connection, sql: String) throws(SQLiteError) {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw connection.error(rc, context: sql) }
        self.handle = stmt
        self.sql = sql
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    // MARK: Binding

    /// Binds one value to the parameter at `index` (1-based).
    public func bind(_ value: SQLiteValue, at index: Int32) throws(SQLiteError) {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(handle, index)
        case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
        case .real(let v): rc = sqlite3_bind_double(handle, index, v)
        case .text(let v): rc = bindText(v, at: index)
        case .blob(let v):
            rc = v.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), transient) }
        }
        guard rc == SQLITE_OK else { throw connection.error(rc, context: sql) }
    }

    private func bindText(_ value: String, at index: Int32) -> Int32 {
        var value = value
        return value.withUTF8 { buf in
            Statement.bindUTF8(handle, index, UnsafeRawPointer(buf.baseAddress), buf.count)
        }
    }

    /// Binds `count` UTF-8 bytes as TEXT (an empty string when `base` is nil). SQLite copies them.
    static func bindUTF8(_ handle: OpaquePointer, _ index: Int32, _ base: UnsafeRawPointer?, _ count: Int) -> Int32 {
        guard let base else { return sqlite3_bind_text(handle, index, "", 0, transient) }
        return sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(count), transient)
    }

    /// Binds UTF-8 bytes as TEXT without copying them: the caller keeps `bytes` valid and unchanged until the
    /// statement has been stepped and every parameter bound this way has been bound again (or cleared).
    public func bindText(borrowing bytes: UnsafeBufferPointer<UInt8>, at index: Int32) throws(SQLiteError) {
        let rc =
            bytes.baseAddress.map {
                sqlite3_bind_text(handle, index, UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self), Int32(bytes.count), nil)
            }
            ?? sqlite3_bind_text(handle, index, "", 0, transient)
        guard rc == SQLITE_OK else { throw connection.error(rc, context: sql) }
    }

    /// Binds a 64-bit integer, or NULL for nil.
    public func bind(_ value: Int64?, at index: Int32) throws(SQLiteError) {
        let rc = value.map { sqlite3_bind_int64(handle, index, $0) } ?? sqlite3_bind_null(handle, index)
        guard rc == SQLITE_OK else { throw connection.error(rc, context: sql) }
    }

    /// Binds every value in order, starting at parameter 1.
    public func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        for (i, v) in values.enumerated() { try bind(v, at: Int32(i + 1)) }
    }

    // MARK: Stepping

    /// Advances to the next row: true when a row is available, false when the statement is done.
    @discardableResult
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let err = connection.error(rc, context: sql)
            sqlite3_reset(handle)
            throw err
        }
    }

    /// Resets the statement so it can run again. Bindings stay until rebound; `clearBindings()` sets them to NULL.
    public func reset() {
        sqlite3_reset(handle)
    }

    /// Sets every parameter back to NULL.
    public func clearBindings() {
        sqlite3_clear_bindings(handle)
    }

    /// Runs the statement to completion with these bindings, then resets it.
    public func run(_ values: [SQLiteValue] = []) throws(SQLiteError) {
        defer {
            reset()
            clearBindings()
        }
        try bind(values)
        while try step() {}
    }

    // MARK: Columns

    /// How many columns each row has.
    public var columnCount: Int32 { sqlite3_column_count(handle) }

    /// The name of column `index` (0-based).
    public func columnName(_ index: Int32) -> String { String(cString: sqlite3_column_name(handle, index)) }

    /// True when column `index` of the current row is NULL.
    public func isNull(_ index: Int32) -> Bool { sqlite3_column_type(handle, index) == SQLITE_NULL }

    public func int64(_ index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }
    public func double(_ index: Int32) -> Double { sqlite3_column_double(handle, index) }
    public func optionalInt64(_ index: Int32) -> Int64? { isNull(index) ? nil : int64(index) }
    public func optionalDouble(_ index: Int32) -> Double? { isNull(index) ? nil : double(index) }

    /// Column `index` as text ("" when NULL).
    public func string(_ index: Int32) -> String {
        guard let p = sqlite3_column_text(handle, index) else { return "" }
        let n = Int(sqlite3_column_bytes(handle, index))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    public func optionalString(_ index: Int32) -> String? { isNull(index) ? nil : string(index) }

    /// Calls `body` with the UTF-8 bytes of column `index`, without copying them (valid only inside `body`).
    public func withUTF8<R>(_ index: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let p = sqlite3_column_text(handle, index)
        let n = Int(sqlite3_column_bytes(handle, index))
        return try body(UnsafeBufferPointer(start: p, count: p == nil ? 0 : n))
    }

    /// Column `index` as a typed value.
    public func value(_ index: Int32) -> SQLiteValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER: return .integer(int64(index))
        case SQLITE_FLOAT: return .real(double(index))
        case SQLITE_TEXT: return .text(string(index))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(handle, index))
            guard n > 0, let p = sqlite3_column_blob(handle, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }

    /// Every column of the current row.
    public func row() -> [SQLiteValue] { (0..<columnCount).map { value($0) } }
}
