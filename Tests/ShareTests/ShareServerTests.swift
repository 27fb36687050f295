import EventLog
import Foundation
import Share
import TestSupport
import Testing

/// `clowdr share`'s HTTP/1.1 server on a real socket: keep-alive, HEAD, and what it does with requests that are not
/// what it serves.
@Suite("clowdr share: the HTTP server")
struct ShareServerTests {
    /// A server on a free port of 127.0.0.1 over a PROVDIR with one experiment (an empty log); returns its port.
    static let port: UInt16 = {
        let provdir = try! TestSupport.temporaryDirectory("share-server")
        let id = "2027-01-01_00-00-00-SERVER01"
        try! FileManager.default.createDirectory(atPath: provdir + "/" + id, withIntermediateDirectories: true)
        _ = try! EventLog(path: provdir + "/" + id + "/" + EventLog.fileName, mode: .create)
        let server = ShareServer(site: ShareSite(root: .provdir(provdir)), host: "127.0.0.1", port: 0)
        let bound = PortBox()
        Thread.detachNewThread { try! server.run { url in bound.set(UInt16(url.split(separator: ":").last!.dropLast())!) } }
        return bound.wait()
    }()

    /// Sends `bytes` on a new connection and reads until the server closes it or is quiet for a second.
    func exchange(_ bytes: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = Self.port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        var t = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        _ = Array(bytes.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += chunk[..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The statuses of the answers in `text`, one after the other (each head, then as many bytes as its
    /// Content-Length says, except after HEAD).
    func statuses(_ text: String, head: Bool = false) -> [String] {
        var rest = Substring(text)
        var out: [String] = []
        while let end = rest.range(of: "\r\n\r\n") {
            let lines = rest[..<end.lowerBound].components(separatedBy: "\r\n")
            out.append(String(lines[0].dropFirst(9).prefix(3)))
            let length = lines.first { $0.hasPrefix("Content-Length: ") }.flatMap { Int($0.dropFirst(16)) } ?? 0
            rest = rest[end.upperBound...].dropFirst(head ? 0 : length)
        }
        return out
    }

    @Test("two requests on one connection (keep-alive, sent at once), then Connection: close ends it")
    func keepAlive() throws {
        let text = try exchange(
            "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /e/2027-01-01_00-00-00-SERVER01/api/version?x=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nConnection: close\r\n\r\n"
        )
        #expect(statuses(text) == ["200", "200", "404"], "\(text)")
        #expect(text.contains("{\"seq\":") && text.hasSuffix("not found\n"))
        #expect(text.components(separatedBy: "Connection: close").count == 2, "only the last answer closes")
    }

    @Test("HEAD: the length the body would have, no body")
    func head() throws {
        let text = try exchange("HEAD /e/2027-01-01_00-00-00-SERVER01/api/version HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(statuses(text, head: true) == ["200"] && text.hasSuffix("\r\n\r\n") && !text.contains("Content-Length: 0"), "\(text)")
    }

    @Test("percent-encoded paths are decoded before the routes see them (no way around the traversal check)")
    func percentDecoding() throws {
        #expect(statuses(try exchange("GET /e/2027-01-01_00-00-00-%53ERVER01/api/version HTTP/1.1\r\nConnection: close\r\n\r\n")) == ["200"])
        #expect(statuses(try exchange("GET /e/%2e%2e/2027-01-01_00-00-00-SERVER01/api/version HTTP/1.1\r\nConnection: close\r\n\r\n")) == ["404"])
        #expect(statuses(try exchange("GET /e/%zz HTTP/1.1\r\n\r\n")) == ["400"])
    }

    @Test("not HTTP, an oversized head, an HTTP/2 preface: an error answer, then the connection closes")
    func refusals() throws {
        let garbage = try exchange("HELLO\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        #expect(statuses(garbage) == ["400"] && garbage.contains("Connection: close"), "\(garbage)")
        #expect(statuses(try exchange("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 40000) + "\r\n\r\n")) == ["431"])
        #expect(statuses(try exchange("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")) == ["400"])
        #expect(statuses(try exchange("GET / HTTP/1.1\r\nContent-Length: lots\r\n\r\n")) == ["400"])
    }

    @Test("a request with a body: refused (read-only), the body dropped, the connection still usable")
    func bodies() throws {
        let text = try exchange("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(statuses(text) == ["405", "200"], "\(text)")
        let chunked = try exchange("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        #expect(statuses(chunked) == ["405"] && chunked.contains("Connection: close"), "a body of unknown length ends the connection")
    }
}

/// The port a server thread reports, for the test thread that waits for it.
final class PortBox: @unchecked Sendable {
    private let condition = NSCondition()
    private var port: UInt16?
    func set(_ p: UInt16) {
        condition.withLock {
            port = p
            condition.broadcast()
        }
    }
    func wait() -> UInt16 {
        condition.withLock {
            while port == nil { condition.wait() }
            return port!
        }
    }
}
