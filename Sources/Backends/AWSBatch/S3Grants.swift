public import AWS
public import Boutiques
import ClowdrErrors
import Foundation
public import JSON

/// The S3 locations a set-up's job role may use, declared at `clowdr cloud setup` (`--s3` to read and write, `--read`
/// to read), and the IAM policy that grants exactly them: every container of every run under that set-up reads and
/// writes only there, whatever its image does. A run that names another location is refused before anything is
/// submitted (`check`), told which setup option adds it.
///
/// A location is a prefix: `s3://lab/clowdr` covers `s3://lab/clowdr/...` (and an object named `clowdr`), not
/// `s3://lab/clowdr-old/...`; `s3://lab` covers the whole bucket.
public struct S3Grants: Codable, Sendable, Equatable {
    /// Read and write: the runs' `--s3` folders and the outputs their invocations send to S3.
    public var readWrite: [String] = []
    /// Read only: the datasets the invocations name.
    public var readOnly: [String] = []

    public init(readWrite: [String] = [], readOnly: [String] = []) {
        self.readWrite = readWrite
        self.readOnly = readOnly
    }

    /// The inline policy's name on the job role.
    public static let policyName = "clowdr-job-s3"
    /// IAM's limit on a role's inline policies (characters, whitespace aside).
    static let policyLimit = 10_240

    /// These grants with `other`'s added (each location once, in the order first given).
    public func adding(_ other: S3Grants) -> S3Grants {
        func union(_ a: [String], _ b: [String]) -> [String] { a + b.filter { !a.contains($0) } }
        return S3Grants(readWrite: union(readWrite, other.readWrite), readOnly: union(readOnly, other.readOnly))
    }

    public var isEmpty: Bool { readWrite.isEmpty && readOnly.isEmpty }

    /// Whether `l` is inside one of `locations`.
    static func covers(_ locations: [String], _ l: S3Location) -> Bool {
        locations.compactMap(S3Location.init).contains { g in
            g.bucket == l.bucket && (g.key.isEmpty || l.key == g.key || l.key.hasPrefix(g.folderPrefix))
        }
    }

    public func mayRead(_ l: S3Location) -> Bool { Self.covers(readWrite + readOnly, l) }
    public func mayWrite(_ l: S3Location) -> Bool { Self.covers(readWrite, l) }

    /// The policy document: objects read (and written) under each location, and the bucket listed only under it
    /// (`s3:prefix`). Nothing else: no delete, no bucket settings, no other service.
    public func document() -> JSONValue {
        func objects(_ ls: [String]) -> JSONValue {
            .array(
                ls.compactMap(S3Location.init).flatMap { l -> [JSONValue] in
                    l.key.isEmpty
                        ? [.string("arn:aws:s3:::\(l.bucket)/*")]
                        : [.string("arn:aws:s3:::\(l.bucket)/\(l.key)"), .string("arn:aws:s3:::\(l.bucket)/\(l.folderPrefix)*")]
                })
        }
        var statements: [JSONValue] = []
        if !readWrite.isEmpty {
            statements.append(
                [
                    "Sid": "ReadWriteRunLocations", "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    "Resource": objects(readWrite),
                ])
        }
        if !readOnly.isEmpty {
            statements.append(["Sid": "ReadDatasets", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects(readOnly)])
        }
        // Listing: per bucket, only the declared prefixes (a whole bucket: no condition).
        var prefixes: [String: [String]?] = [:]
        for l in (readWrite + readOnly).compactMap(S3Location.init) {
            if l.key.isEmpty {
                prefixes[l.bucket] = .some(nil)
            } else if case .some(.some(let p)) = prefixes[l.bucket] {
                prefixes[l.bucket] = p + [l.key, l.folderPrefix + "*"]
            } else if prefixes[l.bucket] == nil {
                prefixes[l.bucket] = [l.key, l.folderPrefix + "*"]
            }
        }
        for (bucket, p) in prefixes.sorted(by: { $0.key < $1.key }) {
            var s: JSONObject = [
                "Sid": .string("List" + bucket.filter { $0.isLetter || $0.isNumber }), "Effect": "Allow", "Action": "s3:ListBucket",
                "Resource": .string("arn:aws:s3:::\(bucket)"),
            ]
            if let p { s["Condition"] = ["StringLike": ["s3:prefix": .array(p.map { .string($0) })]] }
            statements.append(.object(s))
        }
        if statements.isEmpty {
            // A role with nothing granted still needs a valid document: one that allows nothing.
            statements.append(["Sid": "NothingDeclared", "Effect": "Deny", "Action": "s3:*", "Resource": "*"])
        }
        return ["Version": "2012-10-17", "Statement": .array(statements)]
    }

    /// The document as IAM takes it (compact), or an error when it is over IAM's size limit.
    public func documentText() throws -> String {
        let text = JSONWriter().string(document())
        guard text.count <= Self.policyLimit else {
            throw BackendError(
                "the job role's policy for \(readWrite.count + readOnly.count) locations is \(text.count) characters, over IAM's limit of \(Self.policyLimit): declare fewer, wider locations (a dataset's top folder rather than each subject)",
                code: "aws.policy_too_large", usage: true)
        }
        return text
    }

    /// The setup options that declare these locations.
    public var options: String {
        (readWrite.map { "--s3 \($0)" } + readOnly.map { "--read \($0)" }).joined(separator: " ")
    }
}

/// The S3 locations a run's tasks read and write, from their invocations: an `s3://` value is read, unless the
/// descriptor makes output paths from it (a BIDS app's `output_dir`): then the task writes there. Each location is
/// kept with the first input that named it (`input 'bids_dir' of task 3`), for messages.
public struct S3Use: Sendable, Equatable {
    public var reads: [S3Location: String] = [:]
    public var writes: [S3Location: String] = [:]

    public init() {}

    /// The inputs of `descriptor` whose values the output paths are made from (written to, not read).
    public static func destinations(of descriptor: Descriptor) -> Set<String> {
        let templates = descriptor.outputs.flatMap { [$0.pathTemplate].compactMap { $0 } + ($0.conditionalPathTemplate?.map(\.path) ?? []) }
        return Set(descriptor.inputs.filter { i in i.valueKey.map { k in templates.contains { $0.contains(k) } } ?? false }.map(\.id))
    }

    /// Adds what one task's invocation names.
    public mutating func add(_ invocation: JSONObject, task: String, destinations: Set<String>) {
        for (id, value) in invocation.sorted(by: { $0.key < $1.key }) {
            for l in (value.arrayValue ?? [value]).compactMap({ $0.stringValue.flatMap(S3Location.init) }) {
                let who = "input '\(id)' of task \(task)"
                if destinations.contains(id) { writes[l] = writes[l] ?? who } else { reads[l] = reads[l] ?? who }
            }
        }
    }
}
