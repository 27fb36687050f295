public import ClowdrErrors
public import SQLite

/// What went wrong with an event log, with a stable code and a message that says what failed, where, and
/// what to do.
public enum EventLogError: CodedError {
    public var errorCode: String { code }
    /// A log that is not there, or not one this clowdr reads, was named by the user.
    public var isUsageError: Bool {
        switch self {
        case .notFound, .incompatible: true
        default: false
        }
    }

    /// The file is not a clowdr log, or was written by a newer clowdr.
    case incompatible(path: String, reason: String)
    /// A pragma did not take the value we set (e.g. WAL refused on a filesystem without shared memory).
    case pragmaRefused(path: String, pragma: String, expected: String, found: String)
    /// No log at that path.
    case notFound(path: String)
    /// An event is malformed (bad id, time, payload...).
    case badEvent(id: String, reason: String)
    /// A segment line in the middle of a segment is not a valid event.
    case badSegment(path: String, line: Int, reason: String)
    /// The same id was ingested with different content: one of the two writers is broken.
    case conflictingDuplicate(path: String, id: String)
    /// SQLite said no.
    case sqlite(path: String, SQLiteError)
    /// An I/O error reading or writing a file.
    case io(path: String, reason: String)

    /// A stable identifier for the kind of failure, for scripts and tests.
    public var code: String {
        switch self {
        case .incompatible: "eventlog.incompatible"
        case .pragmaRefused: "eventlog.pragma_refused"
        case .notFound: "eventlog.not_found"
        case .badEvent: "eventlog.bad_event"
        case .badSegment: "eventlog.bad_segment"
        case .conflictingDuplicate: "eventlog.conflicting_duplicate"
        case .sqlite: "eventlog.sqlite"
        case .io: "eventlog.io"
        }
    }

    public var description: String {
        switch self {
        case .incompatible(let path, let reason):
            "\(path): not a log this clowdr can open: \(reason)"
        case .pragmaRefused(let path, let pragma, let expected, let found):
            "\(path): PRAGMA \(pragma) is \(found), expected \(expected); put the log on a local filesystem that supports SQLite's WAL mode"
        case .notFound(let path):
            "\(path): no experiment there; give an experiment folder (PROVDIR/<experiment-id>), its clowdr.db, or a PROVDIR that holds experiments"
        case .badEvent(let id, let reason):
            "event \(id): \(reason)"
        case .badSegment(let path, let line, let reason):
            "\(path):\(line): not a valid event: \(reason); the segment was not ingested (nothing was written)"
        case .conflictingDuplicate(let path, let id):
            "\(path): event \(id) is already in the log with different content; the segment was not ingested"
        case .sqlite(let path, let error):
            "\(path): \(error)"
        case .io(let path, let reason):
            "\(path): \(reason)"
        }
    }
}
