import AWS
import ClowdrErrors
import Foundation
import TestSupport
import Testing

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

    @Test("a body whose checksum S3 found wrong (BadDigest: damaged on the way) is sent again")
    func badDigestRetried() throws {
        let badDigest = "<Error><Code>BadDigest</Code><Message>The CRC32 you specified did not match the calculated checksum.</Message></Error>"
        let server = try ScriptedServer([(400, badDigest), (200, "")])
        defer { server.stop() }
        try client(server).put(Data("x".utf8), bucket: "b", key: "k")
        #expect(server.requests == 2)
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

    @Test(
        "a loopback proxy in front of moto answering 500 and 503 to a third of the requests: every S3 operation still succeeds, data intact",
        .enabled(if: Moto.available, "moto is not running: scripts/moto/setup.sh starts it (make test does)"))
    func faultyProxyInFrontOfMoto() throws {
        let port = try #require(URL(string: Moto.endpoint!)?.port)
        let error500 = (500, "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>")
        let proxy = try ScriptedServer([(0, ""), (0, ""), error500, (0, ""), (0, ""), (503, Self.slowDown)], upstream: UInt16(port))
        defer { proxy.stop() }
        var throughProxy = Moto.configuration()
        throughProxy.endpoints = ["": "http://127.0.0.1:\(proxy.port)"]
        var s3 = S3Client(configuration: throughProxy)
        s3.http.backoff = 0.01
        let bucket = "clowdr-faults-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try s3.createBucket(bucket)
        let dir = NSTemporaryDirectory() + "clowdr-faults-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = Data((0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        _ = FileManager.default.createFile(atPath: dir + "/f", contents: bytes)
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
