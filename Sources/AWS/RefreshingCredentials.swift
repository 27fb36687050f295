public import Foundation

/// Keys that expire (a container's job role, a `credential_process`'s), fetched again when less than five minutes
/// are left: a worker that runs for a day on AWS Batch keeps signing after its job role's first keys expire.
public final class RefreshingCredentials: @unchecked Sendable {
    /// Fetches keys and when they expire (nil: never).
    public typealias Fetch = @Sendable () throws -> (credentials: Credentials, expiration: Date?)

    /// How long before their expiration keys are fetched again.
    public static let margin: TimeInterval = 300

    /// The keys fetched first.
    public let first: Credentials
    private let lock = NSLock()
    private var current: (credentials: Credentials, expiration: Date?)
    private let fetch: Fetch

    /// Fetches the first keys.
    public init(fetch: @escaping Fetch) throws {
        current = try fetch()
        first = current.credentials
        self.fetch = fetch
    }

    /// The keys to sign with at `now`: fetched again first when they expire within `margin`.
    public func credentials(at now: Date) throws -> Credentials {
        try lock.withLock {
            if let expiration = current.expiration, expiration.timeIntervalSince(now) < Self.margin { current = try fetch() }
            return current.credentials
        }
    }

    /// AWS's form of an expiration time (`2030-01-01T00:00:00Z`), nil when absent or unreadable.
    static func expiration(_ value: Any?) -> Date? {
        guard let text = value as? String else { return nil }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
