import AWS
public import Boutiques
import ClowdrErrors
import Foundation
public import JSON

/// What a run on AWS Batch is checked for before anything is written: every S3 location its tasks would read or
/// write is one the set-up's job role may use (else the setup option that adds it is named), every input it reads
/// exists (else the task and input that name it are), and its image exists (`ImageCheck`). A failure is a usage
/// error (exit 2).
public enum RunAccess {
    public static func check(_ settings: AWSBatchSettings, descriptor: Descriptor, invocations: [(task: String, invocation: JSONObject)]) throws {
        let record = settings.record
        let setup = "clowdr cloud setup --region \(record.region)\(record.name == "clowdr" ? "" : " --setup-name \(record.name)")"
        guard let grants = record.locations else {
            throw BackendError(
                "the job role of set-up '\(record.name)' (region \(record.region)) was made by an earlier clowdr and may read, write and delete every bucket of the account: scope it first with: \(setup) --s3 \(settings.s3)",
                code: "aws.role_unscoped", usage: true)
        }
        let declared = grants.isEmpty ? "none yet" : grants.options
        func refuse(_ what: String, _ l: S3Location, option: String) -> BackendError {
            BackendError(
                "\(what) \(l): the job role of set-up '\(record.name)' may not \(option == "--s3" ? "write" : "read") there (declared: \(declared)); add it with: \(setup) \(option) \(l)",
                code: "aws.location_not_granted", usage: true)
        }
        guard grants.mayWrite(settings.s3) else { throw refuse("--s3", settings.s3, option: "--s3") }
        var use = S3Use()
        let destinations = S3Use.destinations(of: descriptor)
        for (task, invocation) in invocations { use.add(invocation, task: task, destinations: destinations) }
        for (l, who) in use.writes.sorted(by: { $0.key.description < $1.key.description }) where !grants.mayWrite(l) {
            throw refuse("\(who) is written to", l, option: "--s3")
        }
        for (l, who) in use.reads.sorted(by: { $0.key.description < $1.key.description }) where !grants.mayRead(l) {
            throw refuse("\(who) reads", l, option: "--read")
        }
        let s3 = S3Client(configuration: settings.configuration)
        if try look(settings.s3, s3: s3) == nil {
            throw BackendError(
                "--s3 \(settings.s3): there is no bucket \(settings.s3.bucket) at \(settings.configuration.endpoint("s3")): create it, or correct --s3; nothing was submitted",
                code: "aws.no_bucket", usage: true)
        }
        try checkExist(use.reads, s3: s3)
        try ImageCheck.check(settings.image, configuration: settings.configuration)
    }

    /// Whether `l` names an object or a folder holding one; nil when its bucket does not exist.
    static func look(_ l: S3Location, s3: S3Client) throws -> Bool? {
        do { return try s3.exists(l) } catch let e as AWSError where e.errorCode == "aws.nosuchbucket" { return nil }
    }

    /// Every input read exists on S3 (eight looks at once).
    static func checkExist(_ reads: [S3Location: String], s3: S3Client) throws {
        let all = reads.sorted { $0.key.description < $1.key.description }
        final class Missing: @unchecked Sendable {
            let lock = NSLock()
            var indices: [Int] = []
        }
        let missing = Missing()
        try S3Client.parallel(all.count, width: 8) { i in
            if try look(all[i].key, s3: s3) != true { missing.lock.withLock { missing.indices.append(i) } }
        }
        guard let first = missing.indices.min() else { return }
        let count = missing.indices.count
        throw BackendError(
            "\(all[first].value) reads \(all[first].key), which names no object and no folder on S3\(count > 1 ? " (and \(count - 1) other inputs are missing)" : ""): upload it, or correct the invocation; nothing was submitted",
            code: "aws.input_missing", usage: true)
    }
}
