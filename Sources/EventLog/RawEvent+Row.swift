import SQLite

extension RawEvent {
    /// The columns of the `events` table a row must hold, in this order, for `init(row:)`.
    static let columns = "seq, id, time, task, attempt, type, version, payload"

    /// The event in a row of `SELECT \(columns) FROM events ...`: the one place an `events` row is decoded by position.
    init(row s: Statement) {
        self.init(
            seq: s.int64(0), id: s.string(1), time: Timestamp(microseconds: s.int64(2)), task: s.optionalString(3),
            attempt: s.optionalInt64(4).map { Int($0) }, type: s.string(5), version: Int(s.int64(6)), payload: s.string(7))
    }
}
