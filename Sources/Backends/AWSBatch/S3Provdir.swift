public import AWS
public import ClowdrErrors
import EventLog
public import Foundation

/// An S3 PROVDIR (`clowdr cloud ... s3://BUCKET/PATH`, the original Clowdr's form): the log must be on a local disk
/// (SQLite), so the experiments are kept in a local cache (`CloudRecord.cacheFolder`) while they run, and each
/// experiment the run made there is uploaded to the S3 folder when it ends, whatever its outcome.
public struct S3Provdir: Sendable {
    /// Where the user asked the record to go.
    public let remote: S3Location
    /// The local folder the run uses as its PROVDIR.
    public let cache: String
    /// The cache's entries before the run: what is uploaded is what the run added.
    let before: Set<String>

    /// The cache of `remote`, made if missing; `environment` gives `CLOWDR_HOME`.
    public init(_ remote: S3Location, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.remote = remote
        cache = CloudRecord.cacheFolder(for: remote, environment: environment)
        do { try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true) } catch {
            throw BackendError(
                "cannot make the local cache \(cache) of \(remote) (\(error.localizedDescription)): set CLOWDR_HOME to a folder you can write",
                code: "aws.cache_unwritable")
        }
        before = Set((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? [])
    }

    /// One experiment's upload: where it went and how many files, or why it failed.
    public struct Upload: Sendable {
        public var experiment: String
        public var destination: S3Location
        public var result: Result<Int, BackendError>
    }

    /// Uploads every experiment the run added to the cache, each in full, in the order of their ids. A failed upload
    /// does not stop the others; each is reported.
    public func uploadNew(with s3: @autoclosure () throws -> S3Client) -> [Upload] {
        let now = Set((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? [])
        return now.subtracting(before).filter(ExperimentLayout.isExperimentID).sorted().map { id in
            let destination = remote.appending(id)
            do {
                return Upload(experiment: id, destination: destination, result: .success(try s3().upload(folder: cache + "/" + id, to: destination)))
            } catch {
                let failure = BackendError(
                    "cannot upload the record of \(id) to \(destination): \(error); it is kept in \(cache)/\(id): upload it with aws s3 sync",
                    code: "aws.record_upload_failed")
                return Upload(experiment: id, destination: destination, result: .failure(failure))
            }
        }
    }
}
