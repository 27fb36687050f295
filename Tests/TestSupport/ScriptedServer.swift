import Foundation

/// A loopback HTTP server that answers each request with the next of its scripted statuses (the last one repeats),
/// and counts the requests: an S3 that fails as S3 does. Status 0 forwards the request to `upstream` (a real
/// server, moto) and relays its answer: a faulty proxy in front of it.
public final class ScriptedServer: @unchecked Sendable {
    public private(set) var port: UInt16 = 0
    private let fd: Int32
    private let lock = NSLock()
    private var statuses: [(Int, String)]
    private var served = 0
    private let upstream: UInt16?
    /// Requests answered with an error rather than forwarded.
    public var injected: Int { lock.withLock { injectedCount } }
    private var injectedCount = 0

    public init(_ statuses: [(Int, String)], upstream: UInt16? = nil) throws {
        self.statuses = statuses
        self.upstream = upstream
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in serve() }
    }

    public var requests: Int { lock.withLock { served } }

    /// The request line and header lines of the last request.
    public var lastHead: String { lock.withLock { head } }
    private var head = ""

    /// While down, every request is answered 503 (a server away), and counted as injected.
    public var down: Bool {
        get { lock.withLock { isDown } }
        set { lock.withLock { isDown = newValue } }
    }
    private var isDown = false

    /// Where a request's body starts: just after the first blank line.
    static func endOfHead(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i + 4 }
        return nil
    }

    public func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func serve() {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            Thread.detachNewThread { [self] in answer(client) }
        }
    }

    private func answer(_ client: Int32) {
        defer { close(client) }
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        // The head, then as many body bytes as Content-Length says (counted in bytes: bodies may be binary).
        var bodyStart: Int?
        var length = 0
        while true {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { break }
            request += buffer[0..<n]
            if bodyStart == nil, let end = Self.endOfHead(request) {
                bodyStart = end
                let head = String(decoding: request[..<end], as: UTF8.self)
                length =
                    head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }.flatMap {
                        Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
                    } ?? 0
            }
            if let start = bodyStart, request.count - start >= length { break }
        }
        let (status, body) = lock.withLock { () -> (Int, String) in
            served += 1
            head = String(decoding: request[..<(bodyStart ?? request.count)], as: UTF8.self)
            // Scripted statuses cycle when forwarding (a steady rate of faults), else the last one repeats.
            if isDown {
                injectedCount += 1
                return (503, "<Error><Code>ServiceUnavailable</Code><Message>down for a test</Message></Error>")
            }
            let next = statuses.count > 1 ? statuses.removeFirst() : statuses[0]
            if upstream != nil { statuses.append(next) }
            if next.0 != 0 { injectedCount += 1 }
            return next
        }
        if status == 0, let upstream { return forward(request, to: upstream, client: client) }
        let answer =
            "HTTP/1.1 \(status) X\r\nContent-Type: application/xml\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        _ = answer.withCString { write(client, $0, strlen($0)) }
    }
}

extension ScriptedServer {
    /// Sends the request to 127.0.0.1:`port` (asking it to close the connection after answering) and relays the
    /// whole answer.
    func forward(_ request: [UInt8], to port: UInt16, client: Int32) {
        var text = request
        if let end = text.firstIndex(of: UInt8(ascii: "\n")) { text.insert(contentsOf: Array("Connection: close\r\n".utf8), at: end + 1) }
        let up = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(up) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(up, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return }
        var sent = 0
        while sent < text.count {
            let n = text[sent...].withUnsafeBytes { write(up, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            sent += n
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(up, &buffer, buffer.count)
            if n <= 0 { return }
            var off = 0
            while off < n {
                let w = buffer[off..<n].withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                if w <= 0 { return }
                off += w
            }
        }
    }
}
