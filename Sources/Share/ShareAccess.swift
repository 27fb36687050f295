import Foundation

/// Who may read what `clowdr share` serves. On a cluster's login node 127.0.0.1 belongs to every user of the
/// machine, so by default only the holder of the share's secret may: the token in the URL `clowdr share` prints
/// (`?token=...`), which the first request exchanges for a cookie (then the address bar no longer shows it), or an
/// `Authorization: Bearer TOKEN` header (scripts, curl). `--no-token` opens it to anyone who can reach the port.
public struct ShareAccess: Sendable {
    /// The secret; nil: anyone may read.
    public let token: String?
    /// The cookie that carries it, one per port (two shares on one machine do not overwrite each other's).
    public let cookieName: String

    public init(token: String?, port: Int) {
        self.token = token
        cookieName = "clowdr-share-\(port)"
    }

    /// What to do with a request.
    public enum Decision: Equatable, Sendable {
        /// Serve it.
        case allow
        /// The token came in the URL: set the cookie, and send the browser to the same place without it.
        case enter(setCookie: String, location: String)
        /// Refuse it (403).
        case deny
    }

    /// The decision for a request to `path` with `query` (raw, without `?`) and these header fields (names in any
    /// case).
    public func decide(path: String, query: String?, headers: [(name: String, value: String)]) -> Decision {
        guard let token else { return .allow }
        let items = (query ?? "").split(separator: "&").map { $0.split(separator: "=", maxSplits: 1).map(String.init) }
        if let given = items.first(where: { $0.first == "token" }), given.count == 2, Self.same(given[1].removingPercentEncoding ?? "", token) {
            let rest = items.filter { $0.first != "token" }.map { $0.joined(separator: "=") }.joined(separator: "&")
            return .enter(
                setCookie: "\(cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict", location: path + (rest.isEmpty ? "" : "?" + rest))
        }
        for (name, value) in headers {
            switch name.lowercased() {
            case "cookie":
                for pair in value.split(separator: ";") {
                    let kv = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
                    if kv.count == 2, kv[0] == cookieName, Self.same(kv[1], token) { return .allow }
                }
            case "authorization":
                let parts = value.split(separator: " ", maxSplits: 1).map(String.init)
                if parts.count == 2, ["bearer", "token"].contains(parts[0].lowercased()), Self.same(parts[1], token) { return .allow }
            default: continue
            }
        }
        return .deny
    }

    /// What a refused request is told (never the token).
    public static let refusal =
        "clowdr share: this report needs the secret of its share: open the address clowdr share printed (it ends in ?token=...), or send Authorization: Bearer TOKEN\n"

    /// A new secret: 32 random bytes from the system's generator, in hex.
    public static func newToken() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }

    /// Equal strings, compared in a time that does not depend on where they first differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    /// `target` (a request's path and query) with any `token=` value hidden: for request logs.
    public static func redacted(_ target: String) -> String {
        guard let q = target.firstIndex(of: "?") else { return target }
        let items = target[target.index(after: q)...].split(separator: "&").map { $0.hasPrefix("token=") ? "token=…" : String($0) }
        return String(target[..<q]) + "?" + items.joined(separator: "&")
    }
}
