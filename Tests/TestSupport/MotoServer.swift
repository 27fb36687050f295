import Foundation

/// A moto server as scripts/moto/setup.sh leaves it: its endpoint and the key of a user allowed everything, read from
/// its state folder; signatures are checked. `make test` starts two.
public struct MotoServer: Sendable {
    public let state: String

    /// Batch jobs succeed at once and run nothing (port 5123): the API's shapes.
    public static let simple = MotoServer(state: ProcessInfo.processInfo.environment["MOTO_STATE"] ?? "/tmp/clowdr-moto")
    /// Batch jobs run as containers through podman (port 5125).
    public static let podman = MotoServer(state: ProcessInfo.processInfo.environment["MOTO_PODMAN_STATE"] ?? "/tmp/clowdr-moto-podman")

    public var key: (id: String, secret: String)? {
        guard let text = try? String(contentsOfFile: state + "/credentials", encoding: .utf8) else { return nil }
        let parts = text.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    public var endpoint: String? {
        (try? String(contentsOfFile: state + "/endpoint", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var available: Bool { key != nil && endpoint != nil }

    /// The key and region in the environment, for a clowdr run against this server.
    public var environment: [String: String] {
        ["AWS_ACCESS_KEY_ID": key?.id ?? "", "AWS_SECRET_ACCESS_KEY": key?.secret ?? "", "AWS_REGION": "us-east-1"]
    }
}
