public import AWS
import ClowdrErrors
import Foundation
public import Runner

/// Datasets and invocations that live on S3, for planning on this machine.
public enum S3Dataset {
    /// The dataset at `value` (`s3://bucket/ds`), from one listing of its keys (1,000 a call), as the BIDS planner
    /// reads a folder: what it plans from S3 is what it plans from the same files on disk. Nil when `value` is not
    /// an S3 location.
    public static func tree(_ value: String, s3: S3Client) throws -> (any DatasetTree)? {
        guard let l = S3Location(value) else { return nil }
        let objects = try s3.list(bucket: l.bucket, prefix: l.folderPrefix)
        let files = objects.filter { !$0.key.hasSuffix("/") }.map { "s3://\(l.bucket)/\($0.key)" }
        return ListedDatasetTree(files: files) { path in
            guard let file = S3Location(path), let data = try? s3.get(bucket: file.bucket, key: file.key) else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Fetches an invocation (`s3://bucket/inv.json`) or a folder of them (`s3://bucket/invocations/`, its `*.json`)
    /// into `folder`; returns the local file or folder to plan from.
    public static func fetchInvocations(_ l: S3Location, s3: S3Client, into folder: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if !l.key.isEmpty, !l.key.hasSuffix("/"), try s3.head(bucket: l.bucket, key: l.key) != nil {
            let path = folder + "/" + (l.key as NSString).lastPathComponent
            try s3.download(l, to: path)
            return path
        }
        let objects = try s3.list(bucket: l.bucket, prefix: l.folderPrefix).filter {
            $0.key.hasSuffix(".json") && !$0.key.dropFirst(l.folderPrefix.count).contains("/")
        }
        guard !objects.isEmpty else {
            throw AWSError("invocation \(l): no such object, and no .json object in that folder", code: "usage.invocation_missing", usage: true)
        }
        for o in objects {
            try s3.download(S3Location(bucket: l.bucket, key: o.key), to: folder + "/" + (o.key as NSString).lastPathComponent)
        }
        return folder
    }
}
