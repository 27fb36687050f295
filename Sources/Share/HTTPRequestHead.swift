import Foundation

/// The head of one HTTP/1.x request (request line and header fields), as the share server reads it.
struct HTTPRequestHead: Sendable, Equatable {
    var method: String
    /// The target's path, percent-decoded, without its query.
    var path: String
    /// `HTTP/1.1` or `HTTP/1.0`.
    var version: String
    /// Header fields by lowercased name (a repeated field's values joined with ", ").
    var headers: [String: String]

    /// Why a head could not be read: what the server answers before it closes the connection.
    enum Failure: Error, Equatable {
        /// Not an HTTP/1.x request head (400).
        case malformed(String)
    }

    /// The largest head the server reads (431 beyond it).
    static let maximumSize = 32 * 1024

    /// Parses a head: the bytes before the blank line that ends it (without that line's CRLFs).
    static func parse(_ bytes: ArraySlice<UInt8>) throws(Failure) -> HTTPRequestHead {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { throw .malformed("an empty request") }
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, !requestLine[0].isEmpty, requestLine[0].allSatisfy({ $0.isLetter && $0.isUppercase }) else {
            throw .malformed("a request line that is not METHOD TARGET HTTP/1.x")
        }
        let version = String(requestLine[2])
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { throw .malformed("HTTP version \(version) (HTTP/1.0 and HTTP/1.1 only)") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex, !line[..<colon].contains(where: \.isWhitespace) else {
                throw .malformed("a header line without a field name and a colon")
            }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        if let length = headers["content-length"], Int(length).map({ $0 >= 0 }) != true {
            throw .malformed("a Content-Length that is not a number of bytes (\(length.prefix(40)))")
        }
        return HTTPRequestHead(method: String(requestLine[0]), path: try path(of: requestLine[1]), version: version, headers: headers)
    }

    /// The path of a request target (origin form `/a/b?q`, or absolute form `http://host/a/b`), percent-decoded.
    static func path(of target: Substring) throws(Failure) -> String {
        var t = target.prefix { $0 != "?" && $0 != "#" }
        if t.hasPrefix("http://") || t.hasPrefix("https://") {
            let afterScheme = t[t.range(of: "://")!.upperBound...]
            t = afterScheme.firstIndex(of: "/").map { afterScheme[$0...] } ?? "/"
        }
        guard t.hasPrefix("/"), let decoded = String(t).removingPercentEncoding else {
            throw .malformed("a request target that is not a path (\(target.prefix(80)))")
        }
        return decoded
    }

    /// Whether the connection stays open after the answer (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`).
    var keepAlive: Bool {
        let connection = headers["connection"]?.lowercased() ?? ""
        return version == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")
    }

    /// The request body's length: nil when it has none; -1 when its length is not given in advance (chunked).
    var bodyLength: Int? {
        if headers["transfer-encoding"] != nil { return -1 }
        return headers["content-length"].flatMap { Int($0) }
    }
}
