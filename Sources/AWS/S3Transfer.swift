import ClowdrErrors
import Digest
public import Foundation

/// Large objects: multipart upload and ranged parallel download, each part in flight at most `parallel` at once, so
/// memory stays at `parallel` parts whatever the size of the file.
extension S3Client {
    /// How objects are cut: parts of `partSize` bytes (S3's minimum is 5 MiB except the last), `parallel` at once.
    public struct Transfer: Sendable {
        public var partSize = 8 << 20
        public var parallel = 10
        public init() {}
    }

    /// Uploads a file: one PUT when it fits in one part, else a multipart upload (aborted if a part fails after
    /// its retries, so no parts are left billed).
    public func upload(file path: String, to l: S3Location, transfer: Transfer = Transfer()) throws {
        let size = try Self.size(of: path)
        if size <= Int64(transfer.partSize) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw AWSError("cannot read \(path) to upload it to \(l)", code: "aws.io")
            }
            return try put(data, bucket: l.bucket, key: l.key)
        }
        let resource = l.description
        let started = String(
            decoding: try http.send(
                "POST", url(l.bucket, l.key, query: "uploads="), service: "s3", headers: [("x-amz-checksum-algorithm", "CRC32")],
                operation: "CreateMultipartUpload", resource: resource
            )
            .body, as: UTF8.self)
        guard let upload = XML.values("UploadId", in: started).first else {
            throw AWSError("CreateMultipartUpload \(resource): the answer has no UploadId", code: "aws.bad_answer")
        }
        let parts = Int((size + Int64(transfer.partSize) - 1) / Int64(transfer.partSize))
        // Each part's ETag, and its CRC-32, which S3 verifies on arrival and combines into the object's checksum
        // (without one, S3 computes a checksum of the whole object itself when the upload completes).
        final class Parts: @unchecked Sendable {
            let lock = NSLock()
            var etags: [String]
            var checksums: [String]
            init(_ n: Int) {
                etags = [String](repeating: "", count: n)
                checksums = etags
            }
        }
        let done = Parts(parts)
        do {
            try Self.parallel(parts, width: transfer.parallel) { i in
                let data = try Self.read(path, offset: Int64(i) * Int64(transfer.partSize), count: transfer.partSize)
                let query = "partNumber=\(i + 1)&uploadId=" + SigV4.encode(upload)
                let checksum = CRC32.base64(data)
                let r = try http.send(
                    "PUT", url(l.bucket, l.key, query: query), service: "s3", body: data, headers: [("x-amz-checksum-crc32", checksum)],
                    operation: "UploadPart", resource: resource)
                done.lock.withLock {
                    done.etags[i] = r.header("ETag") ?? ""
                    done.checksums[i] = checksum
                }
            }
            let body =
                "<CompleteMultipartUpload>"
                + (0..<parts).map {
                    "<Part><PartNumber>\($0 + 1)</PartNumber><ETag>\(done.etags[$0])</ETag><ChecksumCRC32>\(done.checksums[$0])</ChecksumCRC32></Part>"
                }.joined()
                + "</CompleteMultipartUpload>"
            let completed = try http.send(
                "POST", url(l.bucket, l.key, query: "uploadId=" + SigV4.encode(upload)), service: "s3", body: Data(body.utf8),
                operation: "CompleteMultipartUpload", resource: resource)
            // S3 may answer 200 with an error in the body.
            if let code = XML.values("Code", in: String(decoding: completed.body, as: UTF8.self)).first {
                throw AWSError("CompleteMultipartUpload \(resource): \(code)", code: "aws." + code.lowercased())
            }
        } catch {
            _ = try? http.send(
                "DELETE", url(l.bucket, l.key, query: "uploadId=" + SigV4.encode(upload)), service: "s3", operation: "AbortMultipartUpload",
                resource: resource)
            throw error
        }
    }

    /// Uploads every file under a local folder to the same relative keys under `l`; returns how many.
    @discardableResult
    public func upload(folder: String, to l: S3Location, transfer: Transfer = Transfer()) throws -> Int {
        guard let walker = FileManager.default.enumerator(atPath: folder) else {
            throw AWSError("cannot read the folder \(folder) to upload it to \(l)", code: "aws.io", usage: true)
        }
        var count = 0
        for case let relative as String in walker {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder + "/" + relative, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            try upload(file: folder + "/" + relative, to: l.appending(relative), transfer: transfer)
            count += 1
        }
        return count
    }

    /// Downloads an object to a file, in ranges fetched in parallel and written in place as they arrive; the file
    /// appears whole under its name (written beside it under a temporary name, then renamed).
    public func download(_ l: S3Location, to path: String, transfer: Transfer = Transfer()) throws {
        guard let object = try head(bucket: l.bucket, key: l.key) else {
            throw AWSError("GetObject \(l): no such object", code: "aws.nosuchkey")
        }
        let temporary = path + ".part-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw AWSError("cannot create \(temporary) to download \(l) into", code: "aws.io")
        }
        do {
            let parts = max(1, Int((object.size + Int64(transfer.partSize) - 1) / Int64(transfer.partSize)))
            try Self.parallel(parts, width: transfer.parallel) { i in
                let first = Int64(i) * Int64(transfer.partSize)
                let last = min(object.size, first + Int64(transfer.partSize)) - 1
                let data = try getRange(l, first...max(first, last), whole: object.size == 0)
                let h = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
                defer { try? h.close() }
                try h.seek(toOffset: UInt64(first))
                try h.write(contentsOf: data)
            }
            guard rename(temporary, path) == 0 else { throw AWSError("cannot rename \(temporary) to \(path)", code: "aws.io") }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// The bytes `range` of an object (the whole object when `whole`).
    public func getRange(_ l: S3Location, _ range: ClosedRange<Int64>, whole: Bool = false) throws -> Data {
        try http.send(
            "GET", url(l.bucket, l.key), service: "s3", headers: whole ? [] : [("Range", "bytes=\(range.lowerBound)-\(range.upperBound)")],
            operation: "GetObject", resource: l.description
        ).body
    }

    static func size(of path: String) throws -> Int64 {
        guard let n = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber else {
            throw AWSError("cannot read \(path): no such file", code: "aws.io", usage: true)
        }
        return n.int64Value
    }

    static func read(_ path: String, offset: Int64, count: Int) throws -> Data {
        guard let h = FileHandle(forReadingAtPath: path) else { throw AWSError("cannot read \(path)", code: "aws.io") }
        defer { try? h.close() }
        try h.seek(toOffset: UInt64(offset))
        return try h.read(upToCount: count) ?? Data()
    }

    /// Runs `body(0..<count)` on `width` threads; throws the first error, after the threads stop taking work.
    public static func parallel(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
        final class Shared: @unchecked Sendable {
            let lock = NSLock()
            var next = 0
            var error: (any Error)?
        }
        let shared = Shared()
        let group = DispatchGroup()
        for _ in 0..<max(1, min(width, count)) {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while true {
                    let i: Int? = shared.lock.withLock {
                        guard shared.error == nil, shared.next < count else { return nil }
                        defer { shared.next += 1 }
                        return shared.next
                    }
                    guard let i else { return }
                    do { try body(i) } catch { shared.lock.withLock { if shared.error == nil { shared.error = error } } }
                }
            }
        }
        group.wait()
        if let error = shared.error { throw error }
    }
}
