import ClowdrErrors
import Digest
public import Foundation

/// One object of a listing.
public struct S3Object: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var etag: String
}

/// S3's object operations clowdr needs: put, get, head, list (every page), delete, and creating a bucket.
///
/// Addressing is virtual-hosted on AWS (`https://BUCKET.s3.REGION.amazonaws.com/KEY`) and path-style on any other
/// endpoint (`http://127.0.0.1:5123/BUCKET/KEY`), as S3-compatible servers expect.
public struct S3Client: Sendable {
    public var http: AWSHTTP

    public init(configuration: AWSConfiguration) { http = AWSHTTP(configuration: configuration) }

    /// The URL of a bucket, or of an object in it; `query` already encoded.
    public func url(_ bucket: String, _ key: String = "", query: String = "") -> URL {
        let path = SigV4.encode(key, keepSlash: true)
        var text: String
        if let configured = http.configuration.customEndpoint("s3") {
            text = configured + "/" + bucket + (key.isEmpty ? "" : "/" + path)
        } else {
            text = "https://\(bucket).s3.\(http.configuration.region).amazonaws.com/" + path
        }
        if !query.isEmpty { text += "?" + query }
        return URL(string: text)!
    }

    public func createBucket(_ bucket: String) throws {
        let region = http.configuration.region
        let body =
            region == "us-east-1"
            ? Data()
            : Data(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(region)</LocationConstraint></CreateBucketConfiguration>"
                    .utf8)
        _ = try http.send("PUT", url(bucket), service: "s3", body: body, operation: "CreateBucket", resource: "s3://\(bucket)")
    }

    public func put(_ data: Data, bucket: String, key: String) throws {
        _ = try http.send(
            "PUT", url(bucket, key), service: "s3", body: data, headers: [("x-amz-checksum-crc32", CRC32.base64(data))], operation: "PutObject",
            resource: "s3://\(bucket)/\(key)")
    }

    public func get(bucket: String, key: String) throws -> Data {
        try http.send("GET", url(bucket, key), service: "s3", operation: "GetObject", resource: "s3://\(bucket)/\(key)").body
    }

    /// The object's size and ETag, or nil when there is no such object.
    public func head(bucket: String, key: String) throws -> S3Object? {
        do {
            let r = try http.send("HEAD", url(bucket, key), service: "s3", operation: "HeadObject", resource: "s3://\(bucket)/\(key)")
            return S3Object(key: key, size: Int64(r.header("Content-Length") ?? "") ?? 0, etag: r.header("ETag") ?? "")
        } catch let e as AWSError where e.errorCode == "aws.http404" || e.errorCode == "aws.nosuchkey" {
            return nil
        }
    }

    /// Every object under `prefix`, following the listing's pages.
    public func list(bucket: String, prefix: String = "") throws -> [S3Object] {
        var objects: [S3Object] = []
        var token: String?
        repeat {
            var query = "list-type=2&prefix=" + SigV4.encode(prefix)
            if let token { query = "continuation-token=" + SigV4.encode(token) + "&" + query }
            let text = String(
                decoding: try http.send(
                    "GET", url(bucket, query: query), service: "s3", operation: "ListObjectsV2", resource: "s3://\(bucket)/\(prefix)"
                ).body,
                as: UTF8.self)
            for item in XML.elements("Contents", in: text) {
                objects.append(
                    S3Object(
                        key: XML.values("Key", in: item).first ?? "", size: Int64(XML.values("Size", in: item).first ?? "") ?? 0,
                        etag: XML.values("ETag", in: item).first ?? ""))
            }
            token = XML.values("IsTruncated", in: text).first == "true" ? XML.values("NextContinuationToken", in: text).first : nil
        } while token != nil
        return objects
    }

    /// Whether `l` names an object, or a folder holding at least one (one HEAD, then a listing of one key).
    public func exists(_ l: S3Location) throws -> Bool {
        if !l.key.isEmpty, !l.key.hasSuffix("/"), try head(bucket: l.bucket, key: l.key) != nil { return true }
        let query = "list-type=2&max-keys=1&prefix=" + SigV4.encode(l.folderPrefix)
        let text = String(
            decoding: try http.send("GET", url(l.bucket, query: query), service: "s3", operation: "ListObjectsV2", resource: l.description).body,
            as: UTF8.self)
        return !XML.elements("Contents", in: text).isEmpty
    }

    public func delete(bucket: String, key: String) throws {
        _ = try http.send("DELETE", url(bucket, key), service: "s3", operation: "DeleteObject", resource: "s3://\(bucket)/\(key)")
    }
}
