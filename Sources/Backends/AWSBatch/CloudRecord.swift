public import AWS
import ClowdrErrors
public import Foundation

/// What `clowdr cloud setup` made (and found) in one account and region, kept in a small JSON file so that runs know
/// their queue and role, and `clowdr cloud teardown` removes exactly what setup created and nothing else.
public struct CloudRecord: Codable, Sendable, Equatable {
    /// One AWS resource clowdr created.
    public struct Resource: Codable, Sendable, Equatable, Hashable {
        /// role, instance_profile, compute_environment, job_queue, job_definition.
        public var kind: String
        public var name: String
        public var arn: String

        public init(kind: String, name: String, arn: String) {
            self.kind = kind
            self.name = name
            self.arn = arn
        }
    }

    public var version = 1
    /// The set-up's name: the first part of every resource's name, and the value of its `clowdr:setup` tag.
    public var name: String
    public var region: String
    /// The endpoint the set-up was made against (nil: AWS's own).
    public var endpoint: String?
    public var jobQueue: String
    public var jobRole: String
    /// What setup created, in creation order (teardown goes backwards). Resources that existed before are not here.
    public var created: [Resource]
    /// The S3 locations the job role may use (nil in the record of an earlier clowdr, whose job role could use every
    /// bucket: `clowdr cloud setup` scopes it).
    public var locations: S3Grants?

    public init(name: String, region: String, endpoint: String?, jobQueue: String, jobRole: String, created: [Resource]) {
        self.name = name
        self.region = region
        self.endpoint = endpoint
        self.jobQueue = jobQueue
        self.jobRole = jobRole
        self.created = created
    }

    /// Where a set-up's record lives by default: `$CLOWDR_HOME/aws/NAME-REGION.json` (`CLOWDR_HOME` defaults to
    /// `~/.clowdr`).
    public static func defaultPath(name: String, region: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        "\(home(environment))/aws/\(name)-\(region).json"
    }

    /// The regions where set-up `name` has a record in the default place.
    public static func regions(of name: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(home(environment))/aws")) ?? []
        return files.filter { $0.hasPrefix(name + "-") && $0.hasSuffix(".json") }.map { String($0.dropFirst(name.count + 1).dropLast(5)) }.sorted()
    }

    /// The local folder that holds the experiments of an S3 PROVDIR (`$CLOWDR_HOME/cache/BUCKET/PATH`).
    public static func cacheFolder(
        for provdir: S3Location, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        "\(home(environment))/cache/\(provdir.bucket)/\(provdir.key)"
    }

    /// clowdr's own folder: `CLOWDR_HOME`, else `~/.clowdr`.
    static func home(_ environment: [String: String]) -> String { environment["CLOWDR_HOME"] ?? (NSHomeDirectory() + "/.clowdr") }

    /// Reads a record; nil when there is none at `path`.
    public static func load(_ path: String) throws -> CloudRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JSONDecoder().decode(CloudRecord.self, from: data) } catch {
            throw BackendError(
                "\(path) is not a clowdr cloud record (\(error)): move it away, then run clowdr cloud setup", code: "aws.record_invalid")
        }
    }

    /// Writes the record under a temporary name, then renames it into place.
    public func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch { throw BackendError("cannot write the cloud record \(path): \(error)", code: "aws.record_io") }
    }
}
