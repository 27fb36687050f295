import Foundation

/// `task_files` v1: the files an attempt's processes used, as its supervisor observed them (clowdr-shim's file
/// tracing: Sources/clowdr-shim/trace.c, docs/provenance.md). Written once per attempt, before its final event.
///
/// Files that many attempts use alike (a tool's libraries, its interpreter's modules) are recorded once, as a set:
/// the first attempt of a process that uses a set gives its files (`sets[i].files`); later ones name it by its id.
public struct TaskFiles: Codable, Sendable, Equatable {
    /// Whether the attempt was observed. When not, `reason` says why (tracing off, or not possible here).
    public var traced: Bool
    public var reason: String?
    /// The file system calls observed (each a stop of the calling process).
    public var calls: Int?
    /// The attempt's own file uses: those no earlier attempt of its process made alike.
    public var files: [FileUse]
    /// The shared sets it used as well.
    public var sets: [FileSet]
    /// The attempt's working directory.
    public var cwd: String?
    /// The paths it read or wrote outside its declared inputs, outputs and working folder, and not system or
    /// temporary files (a configuration in $HOME, a template cache, another subject's files), sorted.
    public var undeclared: [String]?

    public init(
        traced: Bool, reason: String? = nil, calls: Int? = nil, files: [FileUse] = [], sets: [FileSet] = [], cwd: String? = nil,
        undeclared: [String]? = nil
    ) {
        self.traced = traced
        self.reason = reason
        self.calls = calls
        self.files = files
        self.sets = sets
        self.cwd = cwd
        self.undeclared = undeclared
    }
}

/// How a process used a file.
public enum FileUseKind: String, Codable, Sendable, CaseIterable {
    /// Opened for reading.
    case read
    /// Opened for writing (or truncated): it existed before.
    case written
    /// Made by the attempt (opened with O_CREAT when absent, or linked into place).
    case created
    /// A directory opened for reading (listed).
    case listed
    /// Executed.
    case executed
    /// Renamed to `to`.
    case renamed
    /// Deleted.
    case deleted

    /// Whether the use leaves the file as the attempt made it (an output, hashed at the attempt's end).
    public var produces: Bool { self == .written || self == .created }
    /// Whether the attempt took the file as it was (an input, hashed as it was first used).
    public var consumes: Bool { self == .read || self == .executed }
}

/// One use of one file by an attempt's processes.
public struct FileUse: Codable, Sendable, Equatable, Hashable {
    /// The absolute path the process named (relative paths joined to its working directory; symbolic links kept).
    public var path: String
    public var kind: FileUseKind
    /// For an input: size and modification time (nanoseconds since 1970) when first used. For an output: at the
    /// attempt's end. Nil when the file was gone by then (a temporary file renamed or deleted).
    public var size: Int64?
    public var mtimeNs: Int64?
    /// SHA-256 (hex) of the bytes: an input's as first used (through the per-experiment cache keyed by device,
    /// inode, size and modification time), an output's at the attempt's end. Nil for a directory or a file gone.
    public var sha256: String?
    /// For `renamed`: the new path.
    public var to: String?
    /// A container image's own file (`path` is inside the image, in no folder mounted from the host): the image. A
    /// file in a mounted folder is recorded by its host path instead.
    public var image: String?

    public init(
        path: String, kind: FileUseKind, size: Int64? = nil, mtimeNs: Int64? = nil, sha256: String? = nil, to: String? = nil, image: String? = nil
    ) {
        self.path = path
        self.kind = kind
        self.size = size
        self.mtimeNs = mtimeNs
        self.sha256 = sha256
        self.to = to
        self.image = image
    }

    enum CodingKeys: String, CodingKey {
        case path, kind, size, sha256, to, image
        case mtimeNs = "mtime_ns"
    }
}

/// Files used alike by many attempts, recorded once: `id` is the SHA-256 of the files' canonical JSON (sorted by
/// path, then kind). `files` is given where the set is first recorded, and absent where it is named again.
public struct FileSet: Codable, Sendable, Equatable {
    public var id: String
    public var files: [FileUse]?

    public init(id: String, files: [FileUse]? = nil) {
        self.id = id
        self.files = files
    }
}

/// Where a file an attempt used belongs, as `query --files` groups them.
public enum FileGroup: String, Sendable, CaseIterable {
    /// Written, created, renamed or deleted by the attempt.
    case outputs
    /// Read from anywhere else: the data the attempt was given, or found.
    case dataset
    /// Under a home folder (configurations, caches, licences).
    case home
    /// Under a temporary folder.
    case temporary
    /// The system's or an image's own files (programs, libraries, their data).
    case system

    /// Programs, libraries, their data, and the state of system services (a container engine's under /run and
    /// /var/lib), whatever the attempt did to them.
    static let systemPrefixes = [
        "/usr/", "/lib/", "/lib32/", "/lib64/", "/bin/", "/sbin/", "/etc/", "/opt/", "/nix/", "/gnu/", "/var/lib/", "/var/cache/", "/run/",
        "/var/run/",
    ]
    static let temporaryPrefixes = ["/tmp/", "/var/tmp/", "/dev/shm/"]
    static let homePrefixes = ["/home/", "/root/", "/Users/"]

    /// The group of one use.
    public static func of(_ use: FileUse) -> FileGroup {
        let p = use.kind == .renamed ? (use.to ?? use.path) : use.path
        if use.image != nil || systemPrefixes.contains(where: p.hasPrefix) { return .system }
        if !use.kind.consumes && use.kind != .listed { return .outputs }
        if temporaryPrefixes.contains(where: p.hasPrefix) { return .temporary }
        if homePrefixes.contains(where: p.hasPrefix) { return .home }
        return .dataset
    }
}

extension TaskFiles {
    /// A stored `task_files` payload (of a version this build reads), decoded; nil when it is not one.
    public static func decode(_ payload: String, version: Int = EventType.firstVersion) throws -> TaskFiles? {
        guard case .taskFiles(let record) = try EventBody.decode(type: EventType.taskFiles.rawValue, version: version, payload: payload) else {
            return nil
        }
        return record
    }
}

/// `image_resolved` v1: the container image an attempt ran in, as its engine resolved it (once per image and
/// process; every container attempt records it, after its command ended).
public struct ImageResolved: Codable, Sendable, Equatable {
    /// docker, podman, singularity or apptainer.
    public var engine: String
    /// The image as the descriptor names it (docker, podman), or the image file (Singularity, Apptainer).
    public var image: String
    /// The digest: the engine's repository digest (`sha256:...`) when it has one; for an image file, `sha256:` and
    /// the file's SHA-256.
    public var digest: String?
    /// The engine's image id (docker, podman).
    public var id: String?
    /// Why neither could be had (the engine's message).
    public var reason: String?

    public init(engine: String, image: String, digest: String? = nil, id: String? = nil, reason: String? = nil) {
        self.engine = engine
        self.image = image
        self.digest = digest
        self.id = id
        self.reason = reason
    }
}
