import AWS
import ClowdrErrors
import Foundation
import Testing

/// A loopback HTTP server that answers each request with the next of its scripted statuses (the last one repeats),
/// and counts the requests: an S3 that fails as S3 does.
final class ScriptedServer: @unchecked Sendable {
    private(set) var port: UInt16 = 0
    private let fd: Int32
    private let lock = NSLock()
    private var statuses: [(Int, String)]
    private var served = 0

    init(_ statuses: [(Int, String)]) throws {
        self.statuses = statuses
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
            // The head, then as many body bytes as Content-Length says.
            while true {
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { break }
                request += buffer[0..<n]
                let text = String(decoding: request, as: UTF8.self)
                guard let end = text.range(of: "\r\n\r\n") else { continue }
                let length =
                    text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }.flatMap {
                        Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
                    } ?? 0
                if text.utf8.distance(from: end.upperBound, to: text.endIndex) >= length { break }
            }
            let (status, body) = lock.withLock { () -> (Int, String) in
                served += 1
                return statuses.count > 1 ? statuses.removeFirst() : statuses[0]
            }
            let answer =
                "HTTP/1.1 \(status) X\r\nContent-Type: application/xml\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            _ = answer.withCString { write(client, $0, strlen($0)) }
            close(client)
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
}
