import AWS
import ClowdrErrors
import Digest
import Foundation
import TestSupport
import Testing

/// The moto server the AWS client's tests run against (`MotoServer.simple`).
enum Moto {
    static var key: (id: String, secret: String)? { MotoServer.simple.key }
    static var endpoint: String? { MotoServer.simple.endpoint }
    static var available: Bool { MotoServer.simple.available }

    static func configuration(secret: String? = nil) -> AWSConfiguration {
        AWSConfiguration(
            credentials: Credentials(accessKeyID: key!.id, secretAccessKey: secret ?? key!.secret), region: "us-east-1", endpoints: ["": endpoint!])
    }
}

@Suite("S3 against moto, signatures checked", .enabled(if: Moto.available, "moto is not running: scripts/moto/setup.sh starts it (make test does)"))
struct S3MotoTests {
    @Test("put, list, get, head, delete round trip, keys with spaces, slashes and UTF-8")
    func roundTrip() throws {
        let s3 = S3Client(configuration: Moto.configuration())
        let bucket = "clowdr-test-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try s3.createBucket(bucket)
        let keys = ["exp/a.txt", "exp/sub 01/b ሴ.json", "exp/c+d=e&f.bin", "other/x"]
        for (i, key) in keys.enumerated() { try s3.put(Data(repeating: UInt8(i), count: 1000 * (i + 1)), bucket: bucket, key: key) }
        let listed = try s3.list(bucket: bucket, prefix: "exp/")
        #expect(listed.map(\.key).sorted() == keys.prefix(3).sorted() && listed.map(\.size).sorted() == [1000, 2000, 3000])
        #expect(try s3.get(bucket: bucket, key: keys[1]) == Data(repeating: 1, count: 2000))
        #expect(try s3.head(bucket: bucket, key: keys[2])?.size == 3000)
        #expect(try s3.head(bucket: bucket, key: "exp/missing") == nil)
        for key in keys { try s3.delete(bucket: bucket, key: key) }
        #expect(try s3.list(bucket: bucket).isEmpty)
    }

    @Test("a wrong secret is refused by the server, and the error names the operation, the object and what to check")
    func wrongSecret() throws {
        let s3 = S3Client(configuration: Moto.configuration(secret: "not-the-secret"))
        #expect {
            try s3.put(Data("x".utf8), bucket: "clowdr-nowhere", key: "k")
        } throws: { e in
            let text = "\(e)"
            return (e as? CodedFailure)?.errorCode == "aws.signaturedoesnotmatch" && text.contains("PutObject s3://clowdr-nowhere/k")
                && text.contains("secret access key") && !text.contains("not-the-secret")
        }
    }

    @Test("50 MB up in a multipart upload and down in parallel ranges: the same bytes, and no upload left open")
    func multipart() throws {
        let s3 = S3Client(configuration: Moto.configuration())
        let bucket = "clowdr-test-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try s3.createBucket(bucket)
        let dir = try TestSupport.temporaryDirectory("s3")
        var bytes = [UInt8](repeating: 0, count: 50_000_000)
        for i in stride(from: 0, to: bytes.count, by: 4096) { bytes[i] = UInt8(truncatingIfNeeded: i / 4096) }
        let source = dir + "/big.bin"
        _ = FileManager.default.createFile(atPath: source, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var transfer = S3Client.Transfer()
        transfer.partSize = 8 << 20
        let l = S3Location(bucket: bucket, key: "data/big.bin")
        try s3.upload(file: source, to: l, transfer: transfer)
        let head = try #require(try s3.head(bucket: bucket, key: l.key))
        #expect(head.size == 50_000_000 && head.etag.contains("-6"))  // 6 parts of 8 MiB
        // Each part went with its CRC-32, which S3 checked and combined into the object's (a checksum of 6 parts).
        let checked = try s3.http.send(
            "HEAD", s3.url(bucket, l.key), service: "s3", headers: [("x-amz-checksum-mode", "ENABLED")], operation: "HeadObject",
            resource: l.description)
        // The composite: the CRC-32 of the parts' CRC-32s (AWS writes "-6" after it; moto does not).
        var crcs = Data()
        for start in stride(from: 0, to: bytes.count, by: 8 << 20) {
            withUnsafeBytes(of: CRC32.checksum(Data(bytes[start..<min(start + (8 << 20), bytes.count)])).bigEndian) { crcs.append(contentsOf: $0) }
        }
        let composite = CRC32.base64(crcs)
        let stored = checked.header("x-amz-checksum-crc32")
        #expect(stored == composite || stored == composite + "-6", "\(checked.headers)")
        try s3.download(l, to: dir + "/back.bin", transfer: transfer)
        #expect(FileManager.default.contents(atPath: dir + "/back.bin") == Data(bytes))
        #expect(!FileManager.default.fileExists(atPath: dir + "/back.bin.part-\(getpid())"))
        let open = try s3.http.send(
            "GET", s3.url(bucket, query: "uploads="), service: "s3", operation: "ListMultipartUploads", resource: bucket)
        #expect(!String(decoding: open.body, as: UTF8.self).contains("<UploadId>"))
        try s3.delete(bucket: bucket, key: l.key)
    }

    @Test("CRC-32 as S3 checks it: the standard check value, big-endian in base64")
    func crc32() {
        #expect(CRC32.checksum(Data("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.base64(Data("123456789".utf8)) == "y/Q5Jg==")
        #expect(CRC32.checksum(Data()) == 0)
    }

    @Test("S3 locations: s3://bucket/prefix parsed, joined, and anything else refused as a usage error naming the flag")
    func locations() throws {
        let l = try #require(S3Location("s3://lab-data/bids/ds001"))
        #expect(l.bucket == "lab-data" && l.key == "bids/ds001" && l.appending("sub-01/anat").key == "bids/ds001/sub-01/anat")
        #expect(S3Location("s3://lab-data")?.folderPrefix == "" && S3Location("s3://") == nil && S3Location("/data") == nil)
        #expect(throws: CodedFailure.self) { try S3Location.parse("lab-data/x", what: "--s3") }
    }
}
