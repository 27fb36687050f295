import AWS
import ClowdrErrors
import Foundation

/// Copies a folder of S3 objects into a local folder: only what changed. Segments only grow, so a longer object
/// is fetched from the local file's end and appended (the file keeps its inode, and ingest reads only the new
/// bytes); a shorter one (a segment written again from its start) is fetched whole and renamed into place.
struct S3Mirror {
    var s3: S3Client

    /// Pulls every object under `folder` into `local`; with `wholeFiles`, objects are fetched only when absent or
    /// of another size, whole.
    func pull(_ folder: S3Location, into local: String, wholeFiles: Bool = false) throws {
        let objects = try s3.list(bucket: folder.bucket, prefix: folder.folderPrefix)
        if objects.isEmpty { return }
        try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
        for o in objects {
            let name = String(o.key.dropFirst(folder.folderPrefix.count))
            guard !name.isEmpty, !name.contains("/") else { continue }
            let path = local + "/" + name
            let have = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? -1
            let location = S3Location(bucket: folder.bucket, key: o.key)
            if have == o.size { continue }
            if wholeFiles || have < 0 || have > o.size {
                try s3.download(location, to: path)
            } else {
                try append(try s3.getRange(location, have...(o.size - 1)), to: path)
            }
        }
    }

    func append(_ data: Data, to path: String) throws {
        guard let h = FileHandle(forWritingAtPath: path) else { throw BackendError("cannot append to \(path)", code: "aws.io") }
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: data)
    }
}
