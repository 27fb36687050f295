import AWS
import ClowdrErrors
import Foundation
import Testing

/// A loopback HTTP server that answers each request with the next of its scripted statuses (the last one repeats),
/// and counts the requests: an S3 that fails as S3 does. Status 0 forwards the request to `upstream` (a real
/// server, moto) and relays its answer: a faulty proxy in front of it.
final class ScriptedServer: @unchecked Sendable {
    private(set) var port: UInt16 = 0
    private let fd: Int32
    private let lock = NSLock()
    private var statuses: [(Int, String)]
    private var served = 0
    private let upstream: UInt16?
    /// Requests answered with an error rather than forwarded.
    private(set) var injected = 0

    init(_ statuses: [(Int, String)], upstream: UInt16? = nil) throws {
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
        guard bound == 0, listen(fd, 16) == 0 else { throw CodedFailure("cannot listen on 127.0.0.1", code: "test.listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in serve() }
    }

    var requests: Int { lock.withLock { served } }

    /// Where a request's body starts: just after the first blank line.
    static func endOfHead(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i + 4 }
        return nil
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func serve() {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
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
                // Scripted statuses cycle when forwarding (a steady rate of faults), else the last one repeats.
                let next = statuses.count > 1 ? statuses.removeFirst() : statuses[0]
                if upstream != nil { statuses.append(next) }
                if next.0 != 0 { injected += 1 }
                return next
            }
            if status == 0, let upstream {
                forward(request, to: upstream, client: client)
                close(client)
                continue
            }
            let answer =
                "HTTP/1.1 \(status) X\r\nContent-Type: application/xml\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            _ = answer.withCString { write(client, $0, strlen($0)) }
            close(client)
        }
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

@Suite("AWS requests: what is retried and what is not")
struct RetryTests {
    func client(_ server: ScriptedServer) -> S3Client {
        var s3 = S3Client(
            configuration: AWSConfiguration(
                credentials: Credentials(accessKeyID: "AKID", secretAccessKey: "secret"), region: "us-east-1",
                endpoints: ["": "http://127.0.0.1:\(server.port)"]))
        s3.http.backoff = 0.01
        return s3
    }

    static let slowDown = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"

    @Test("500 and 503 answers are retried until one succeeds")
    func serverErrorsRetried() throws {
        let server = try ScriptedServer([(500, "<Error><Code>InternalError</Code></Error>"), (503, Self.slowDown), (200, "")])
        defer { server.stop() }
        try client(server).put(Data("x".utf8), bucket: "b", key: "k")
        #expect(server.requests == 3)
    }

    @Test("an answer that keeps failing is retried a bounded number of times, then reported with AWS's words")
    func boundedRetries() throws {
        let server = try ScriptedServer([(503, Self.slowDown)])
        defer { server.stop() }
        let s3 = client(server)
        #expect {
            try s3.get(bucket: "b", key: "k")
        } throws: { "\($0)".contains("GetObject s3://b/k: SlowDown (HTTP 503): Please reduce your request rate.") }
        #expect(server.requests == s3.http.attempts)
    }

    @Test("a refusal (403) is not retried, and names the action to grant")
    func refusalNotRetried() throws {
        let server = try ScriptedServer([(403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")])
        defer { server.stop() }
        #expect {
            try client(server).delete(bucket: "b", key: "k")
        } throws: { ($0 as? CodedFailure)?.errorCode == "aws.accessdenied" && "\($0)".contains("not allowed DeleteObject") }
        #expect(server.requests == 1)
    }

    @Test("a loopback proxy in front of moto answering 500 and 503 to a third of the requests: every S3 operation still succeeds, data intact")
    func faultyProxyInFrontOfMoto() throws {
        guard Moto.available, let port = URL(string: Moto.endpoint!)?.port else { return }
        let error500 = (500, "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>")
        let proxy = try ScriptedServer([(0, ""), (0, ""), error500, (0, ""), (0, ""), (503, Self.slowDown)], upstream: UInt16(port))
        defer { proxy.stop() }
        var s3 = S3Client(
            configuration: AWSConfiguration(
                credentials: Credentials(accessKeyID: Moto.key!.id, secretAccessKey: Moto.key!.secret), region: "us-east-1",
                endpoints: ["": "http://127.0.0.1:\(proxy.port)"]))
        s3.http.backoff = 0.01
        let bucket = "clowdr-faults-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try s3.createBucket(bucket)
        let dir = NSTemporaryDirectory() + "clowdr-faults-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = Data((0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        FileManager.default.createFile(atPath: dir + "/f", contents: bytes)
        var transfer = S3Client.Transfer()
        transfer.partSize = 5 << 20
        let l = S3Location(bucket: bucket, key: "x/f")
        try s3.upload(file: dir + "/f", to: l, transfer: transfer)
        for i in 0..<6 { try s3.put(Data("\(i)".utf8), bucket: bucket, key: "x/small-\(i)") }
        #expect(try s3.list(bucket: bucket, prefix: "x/").count == 7)
        try s3.download(l, to: dir + "/back", transfer: transfer)
        #expect(FileManager.default.contents(atPath: dir + "/back") == bytes)
        #expect(try s3.head(bucket: bucket, key: "x/small-3")?.size == 1)
        for i in 0..<6 { try s3.delete(bucket: bucket, key: "x/small-\(i)") }
        #expect(proxy.injected >= 5, "faults injected: \(proxy.injected) of \(proxy.requests)")
    }
}
