import ClowdrErrors

/// `s3://bucket/prefix`: where an object or a folder of objects is. The key has no leading slash; a folder's key
/// is its prefix (empty: the whole bucket).
public struct S3Location: Sendable, Hashable, CustomStringConvertible {
    public var bucket: String
    public var key: String

    public init(bucket: String, key: String) {
        self.bucket = bucket
        self.key = key
    }

    /// Parses `s3://bucket/key`; nil when `text` is not an S3 URI.
    public init?(_ text: String) {
        guard text.hasPrefix("s3://") else { return nil }
        let rest = text.dropFirst(5)
        let bucket = rest.prefix { $0 != "/" }
        guard !bucket.isEmpty else { return nil }
        self.bucket = String(bucket)
        key = String(rest.dropFirst(bucket.count).drop { $0 == "/" })
    }

    /// Parses `s3://bucket/key`, or throws a usage error naming `what` (the flag or argument).
    public static func parse(_ text: String, what: String) throws -> S3Location {
        guard let l = S3Location(text) else {
            throw AWSError("\(what): '\(text)' is not an S3 location: write s3://BUCKET/PREFIX", code: "usage.s3_location", usage: true)
        }
        return l
    }

    /// The location of `path` under this one, as a folder.
    public func appending(_ path: String) -> S3Location {
        let base = key.isEmpty || key.hasSuffix("/") ? key : key + "/"
        return S3Location(bucket: bucket, key: base + path.drop { $0 == "/" })
    }

    /// This location as a folder prefix (ending in `/`, or empty for the bucket).
    public var folderPrefix: String { key.isEmpty || key.hasSuffix("/") ? key : key + "/" }

    public var description: String { "s3://\(bucket)/\(key)" }
}
