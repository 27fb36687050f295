import EventLog
import Foundation
import JSON
import Share
import ShareHTTP
import TestSupport
import Testing

/// `clowdr share`'s server (SwiftNIO's HTTP/1.1) on a real socket: keep-alive, HEAD, what it does with requests
/// that are not what it serves, its secret, slow clients, and the changes it pushes.
@Suite("clowdr share: the HTTP server")
struct ShareServerTests {
    static let experiment = "2027-01-01_00-00-00-SERVER01"
    static let token = ShareAccess.newToken()

    /// A PROVDIR with one experiment (an empty log).
    static let provdir: String = {
        let provdir = try! TestSupport.temporaryDirectory("share-server")
        try! FileManager.default.createDirectory(atPath: provdir + "/" + experiment, withIntermediateDirectories: true)
        _ = try! EventLog(path: provdir + "/" + experiment + "/" + EventLog.fileName, mode: .create)
        return provdir
    }()

    /// What the servers of these tests logged.
    static let logged = Lines()

    /// A server without a secret (the protocol tests) and one with (the access tests), on free ports; a short
    /// request deadline for the slow-client test.
    static let open: Int = try! ShareServer(site: ShareSite(root: .provdir(provdir)), host: "127.0.0.1", port: 0, token: nil).start()
    static let guarded: Int = try! ShareServer(
        site: ShareSite(root: .provdir(provdir)), host: "127.0.0.1", port: 0, token: token, requestDeadline: 1, log: { logged.add($0) }
    ).start()

    /// Sends `bytes` on a new connection to `port` and reads until the server closes it or is quiet for a second.
    func exchange(_ bytes: String, port: Int = Self.open) throws -> String {
        let fd = try connect(port)
        defer { close(fd) }
        _ = Array(bytes.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return String(decoding: readAll(fd), as: UTF8.self)
    }

    /// A connected socket to 127.0.0.1:`port`, reads timing out after `timeout` seconds.
    func connect(_ port: Int, timeout: Int = 1) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        var t = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Reads until the peer closes or the read times out.
    func readAll(_ fd: Int32) -> [UInt8] {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += chunk[..<n]
        }
        return out
    }

    /// The statuses of the answers in `text`, one after the other (each head, then as many bytes as its
    /// Content-Length says, except after HEAD).
    func statuses(_ text: String, head: Bool = false) -> [String] {
        var rest = Substring(text)
        var out: [String] = []
        while let end = rest.range(of: "\r\n\r\n") {
            let lines = rest[..<end.lowerBound].components(separatedBy: "\r\n")
            out.append(String(lines[0].dropFirst(9).prefix(3)))
            let length = lines.first { $0.lowercased().hasPrefix("content-length: ") }.flatMap { Int($0.dropFirst(16)) } ?? 0
            rest = rest[end.upperBound...].dropFirst(head ? 0 : length)
        }
        return out
    }

    @Test("two requests on one connection (keep-alive, sent at once), then Connection: close ends it")
    func keepAlive() throws {
        let text = try exchange(
            "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /e/\(Self.experiment)/api/version?x=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nConnection: close\r\n\r\n"
        )
        #expect(statuses(text) == ["200", "200", "404"], "\(text)")
        #expect(text.contains("{\"seq\":") && text.hasSuffix("not found\n"))
        #expect(text.lowercased().components(separatedBy: "connection: close").count == 2, "only the last answer closes")
    }

    @Test("HEAD: the length the body would have, no body")
    func head() throws {
        let text = try exchange("HEAD /e/\(Self.experiment)/api/version HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(statuses(text, head: true) == ["200"] && text.hasSuffix("\r\n\r\n") && !text.contains("content-length: 0"), "\(text)")
    }

    @Test("percent-encoded paths are decoded before the routes see them (no way around the traversal check)")
    func percentDecoding() throws {
        #expect(statuses(try exchange("GET /e/2027-01-01_00-00-00-%53ERVER01/api/version HTTP/1.1\r\nConnection: close\r\n\r\n")) == ["200"])
        #expect(statuses(try exchange("GET /e/%2e%2e/\(Self.experiment)/api/version HTTP/1.1\r\nConnection: close\r\n\r\n")) == ["404"])
        #expect(statuses(try exchange("GET /e/%zz HTTP/1.1\r\nConnection: close\r\n\r\n")) == ["404"])
    }

    @Test("not HTTP, an oversized head, an HTTP/2 preface: an error answer, then the connection closes")
    func refusals() throws {
        let garbage = try exchange("HELLO\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        #expect(statuses(garbage) == ["400"] && garbage.lowercased().contains("connection: close"), "\(garbage)")
        #expect(["400", "431"].contains(statuses(try exchange("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 200_000) + "\r\n\r\n")).first))
        #expect(statuses(try exchange("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")) == ["400"])
        #expect(statuses(try exchange("GET / HTTP/1.1\r\nContent-Length: lots\r\n\r\n")) == ["400"])
    }

    @Test("a request with a body: refused (read-only), the body dropped, the connection still usable")
    func bodies() throws {
        let text = try exchange("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(statuses(text) == ["405", "200"], "\(text)")
        let chunked = try exchange(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(statuses(chunked) == ["405", "200"], "\(chunked)")
    }

    @Test(
        "the secret: refused without it and with a wrong one; the URL's token becomes a cookie; a Bearer header works; the log never shows it"
    )
    func secret() throws {
        let page = "/e/\(Self.experiment)/"
        let without = try exchange("GET \(page) HTTP/1.1\r\nConnection: close\r\n\r\n", port: Self.guarded)
        #expect(statuses(without) == ["403"] && without.contains("?token=") && !without.contains(Self.token), "\(without)")
        let other = Self.token.dropLast() + (Self.token.hasSuffix("0") ? "1" : "0")  // one character off
        let wrong = try exchange("GET \(page)?token=\(other) HTTP/1.1\r\nConnection: close\r\n\r\n", port: Self.guarded)
        #expect(statuses(wrong) == ["403"])
        let entered = try exchange("GET \(page)?token=\(Self.token)&x=1 HTTP/1.1\r\nConnection: close\r\n\r\n", port: Self.guarded)
        let cookie = "clowdr-share-\(Self.guarded)=\(Self.token)"
        #expect(statuses(entered) == ["302"] && entered.contains("Set-Cookie: \(cookie); Path=/; HttpOnly; SameSite=Strict"), "\(entered)")
        #expect(entered.contains("Location: \(page)?x=1\r\n"), "sent on without the token: \(entered)")
        let withCookie = try exchange("GET \(page) HTTP/1.1\r\nCookie: a=b; \(cookie)\r\nConnection: close\r\n\r\n", port: Self.guarded)
        #expect(statuses(withCookie) == ["200"] && withCookie.contains("<html"))
        let otherPort = try exchange("GET \(page) HTTP/1.1\r\nCookie: clowdr-share-1=\(Self.token)\r\nConnection: close\r\n\r\n", port: Self.guarded)
        #expect(statuses(otherPort) == ["403"], "another share's cookie does not open this one")
        let bearer = try exchange(
            "GET \(page)api/version HTTP/1.1\r\nAuthorization: Bearer \(Self.token)\r\nConnection: close\r\n\r\n", port: Self.guarded)
        #expect(statuses(bearer) == ["200"])
        let lines = Self.logged.all()
        #expect(lines.contains { $0.contains("token=…") } && !lines.contains { $0.contains(Self.token) }, "\(lines)")
    }

    @Test("140 clients trickling a request byte by byte: a viewer is answered at once, and each slow client is cut off at the deadline")
    func slowClients() throws {
        var slow: [Int32] = []
        defer { for fd in slow { close(fd) } }
        for _ in 0..<140 {
            let fd = try connect(Self.guarded, timeout: 3)
            _ = Array("GET / HTTP/1.1\r\nX-Slow: ".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            slow.append(fd)
        }
        // One more byte from each, every 0.3 s, while a viewer asks.
        let fds = slow
        let trickle = Thread {
            for _ in 0..<5 {
                usleep(300_000)
                for fd in fds { _ = Array("a".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
            }
        }
        trickle.start()
        let started = Date()
        let viewer = try exchange(
            "GET /e/\(Self.experiment)/api/version HTTP/1.1\r\nAuthorization: Bearer \(Self.token)\r\nConnection: close\r\n\r\n", port: Self.guarded)
        let waited = Date().timeIntervalSince(started)
        #expect(statuses(viewer) == ["200"] && waited < 0.5, "the viewer waited \(waited) s: \(viewer)")
        // The deadline is 1 s: by 2.5 s every slow connection has been closed by the server (a read returns 0).
        usleep(1_500_000)
        var closed = 0
        for fd in slow {
            var byte: UInt8 = 0
            let r = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
            if r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE)) { closed += 1 }  // a byte sent after the close: reset
        }
        #expect(closed == 140, "closed by the server: \(closed) of 140")
    }

    @Test("the live page's push: a change to the log reaches a follower as the rows of the tasks it touched, well under 200 ms")
    func pushedChanges() throws {
        let provdir = try TestSupport.temporaryDirectory("share-push")
        defer { try? FileManager.default.removeItem(atPath: provdir) }
        let id = "2027-01-01_00-00-00-PUSHED01"
        try FileManager.default.createDirectory(atPath: provdir + "/" + id, withIntermediateDirectories: true)
        let log = try EventLog(path: provdir + "/" + id + "/" + EventLog.fileName, mode: .create)
        let factory = EventFactory()
        try log.append([factory.make(task: "0", .taskPlanned(TaskPlanned(invocation: [:], commandLine: "t")))])
        let port = try ShareServer(site: ShareSite(root: .provdir(provdir)), host: "127.0.0.1", port: 0, token: nil).start()
        let fd = try connect(port, timeout: 2)
        defer { close(fd) }
        _ = Array("GET /e/\(id)/api/events HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        func next() -> String {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n > 0 ? String(decoding: chunk[..<n], as: UTF8.self) : ""
        }
        let first = next()
        #expect(first.contains("text/event-stream") && (first.contains("data: {\"seq\":1}") || next().contains("data: {\"seq\":1}")), "\(first)")
        var worst = 0.0
        for k in 0..<5 {
            let written = Date()
            try log.append([factory.make(task: "0", attempt: k + 1, .taskStarted(TaskStarted(host: "h", pid: 1)))])
            let frame = next()
            worst = max(worst, Date().timeIntervalSince(written))
            #expect(frame.contains(#""id":["0"]"#) && frame.contains(#""attempts":[\#(k + 1)]"#), "\(frame)")
        }
        print("clowdr share: a change reached the page's stream at most \(String(format: "%.0f", worst * 1000)) ms after it was written")
        #expect(worst < 0.2, "pushed within 200 ms (worst \(worst) s)")
    }
}

/// Lines told by a server, kept for the checks.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ s: String) { lock.withLock { lines.append(s) } }
    func all() -> [String] { lock.withLock { lines } }
}
