import Boutiques
import Digest
import EventLog
import Foundation
import JSON

/// One record of clowdr-shim's file tracing, as the server wrote it (Sources/clowdr-shim/trace.c: one line per file
/// and kind of use, with what `stat` said of the file when the call was made).
struct TraceRecord: Equatable {
    var kind: FileUseKind
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var mtimeNs: Int64
    var path: String
    var to: String?
    /// Made by a process that saw another root than the server's (a container's): `path` is the container's.
    var inContainer = false

    static let kinds: [UInt8: FileUseKind] = [
        UInt8(ascii: "r"): .read, UInt8(ascii: "w"): .written, UInt8(ascii: "c"): .created, UInt8(ascii: "l"): .listed,
        UInt8(ascii: "x"): .executed, UInt8(ascii: "m"): .renamed, UInt8(ascii: "d"): .deleted,
    ]

    /// The records of a trace: one per line; a line that does not parse (cut short) is skipped.
    static func parse(_ bytes: [UInt8]) -> [TraceRecord] {
        bytes.split(separator: UInt8(ascii: "\n")).compactMap { TraceRecord(line: $0) }
    }

    init?(line: ArraySlice<UInt8>) {
        let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
        guard fields.count == 7 || fields.count == 8, fields[0].count == 1, let kind = Self.kinds[fields[0].first!] else { return nil }
        guard let device = UInt64(String(decoding: fields[1], as: UTF8.self)), let inode = UInt64(String(decoding: fields[2], as: UTF8.self)),
            let size = Int64(String(decoding: fields[3], as: UTF8.self)), let mtime = Int64(String(decoding: fields[4], as: UTF8.self))
        else { return nil }
        self.init(
            kind: kind, device: device, inode: inode, size: size, mtimeNs: mtime, path: Self.unescape(fields[6]),
            to: fields.count == 8 ? Self.unescape(fields[7]) : nil)
        inContainer = fields[5].elementsEqual("c".utf8)
    }

    init(kind: FileUseKind, device: UInt64, inode: UInt64, size: Int64, mtimeNs: Int64, path: String, to: String? = nil) {
        self.kind = kind
        self.device = device
        self.inode = inode
        self.size = size
        self.mtimeNs = mtimeNs
        self.path = path
        self.to = to
    }

    /// A path as the server wrote it: `\t`, `\n` and `\\` stand for a tab, a newline and a backslash.
    static func unescape(_ field: ArraySlice<UInt8>) -> String {
        guard field.contains(UInt8(ascii: "\\")) else { return String(decoding: field, as: UTF8.self) }
        var out: [UInt8] = []
        var escaped = false
        for b in field {
            if escaped {
                out.append(b == UInt8(ascii: "t") ? 9 : b == UInt8(ascii: "n") ? 10 : b)
                escaped = false
            } else if b == UInt8(ascii: "\\") {
                escaped = true
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Files of the kernel's own file systems: not files of the record.
    var isVirtual: Bool { ["/proc/", "/sys/", "/dev/"].contains { path.hasPrefix($0) } }
}

/// What the attempts of one process observed, shared by its executors: the hashes of the files they used, keyed by
/// (device, inode, size, modification time), so that a file read by 10,000 attempts is hashed once; the uses made
/// by earlier attempts; and the sets of uses recorded already (`FileSet`).
public final class FileBook: @unchecked Sendable {
    struct Identity: Hashable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var mtimeNs: Int64
    }

    /// The uses and hashes kept at most (each some 200 bytes): past it, they are forgotten and learnt again.
    static let remembered = 200_000

    private let lock = NSLock()
    /// Where inputs are hashed while their attempts run, one at a time.
    private let hashing = DispatchQueue(label: "clowdr.file-hashes", qos: .utility)
    private var hashes: [Identity: String] = [:]
    private var seen: Set<FileUse> = []
    private var recordedSets: Set<String> = []
    private var warned = false

    public init() {}

    /// The payload of an attempt's `task_files`, from its trace records: each input with its hash as first used (nil
    /// when it changed since, or is gone), each output as it is now; uses that earlier attempts made alike in a set.
    func taskFiles(_ records: [TraceRecord], calls: Int?, declared: DeclaredPlaces? = nil, container: ContainerView? = nil) -> TaskFiles {
        let uses = records.filter { !$0.isVirtual }.map { r in
            guard r.inContainer else { return use(r) }
            return (container ?? ContainerView(image: "(a container started by the command)", mounts: [])).use(r, hostUse: use)
        }
        let (own, shared) = lock.withLock { () -> ([FileUse], [FileUse]) in
            let shared = uses.filter { ($0.kind.consumes || $0.kind == .listed) && seen.contains($0) }
            // Bounded: what recurs (libraries, modules) is learnt again from the next attempts.
            if seen.count > Self.remembered { seen.removeAll(keepingCapacity: true) }
            for u in uses where u.kind.consumes || u.kind == .listed { seen.insert(u) }
            let sharedSet = Set(shared)
            return (uses.filter { !sharedSet.contains($0) }, shared)
        }
        return TaskFiles(
            traced: true, calls: calls, files: own.sorted(by: Self.order), sets: shared.isEmpty ? [] : [set(of: shared)], cwd: declared?.cwd,
            undeclared: declared.map { d in Array(Set(uses.flatMap(d.undeclaredPaths))).sorted() })
    }

    static func order(_ a: FileUse, _ b: FileUse) -> Bool { a.path != b.path ? a.path < b.path : a.kind.rawValue < b.kind.rawValue }

    /// A set of uses: its id, and its files when no earlier attempt of this process recorded it.
    func set(of uses: [FileUse]) -> FileSet {
        let sorted = uses.sorted(by: Self.order)
        var text: [UInt8] = []
        FileUse.write(sorted, into: &text)
        let id = Hex.lowercase(SHA256.digest(Data(text)))
        let first = lock.withLock { recordedSets.insert(id).inserted }
        return FileSet(id: id, files: first ? sorted : nil)
    }

    /// One record as a use: an input's figures as first used, an output's (a rename's new path's) as it is now.
    func use(_ r: TraceRecord) -> FileUse {
        switch r.kind {
        case .read, .executed:
            return FileUse(path: r.path, kind: r.kind, size: r.size, mtimeNs: r.mtimeNs, sha256: hash(r.path, as: identity(r)))
        case .written, .created:
            return now(FileUse(path: r.path, kind: r.kind), at: r.path)
        case .renamed:
            return now(FileUse(path: r.path, kind: r.kind, to: r.to), at: r.to ?? r.path)
        case .listed, .deleted:
            // A directory's time changes with every file made in it: not part of what was listed.
            return r.kind == .deleted ? FileUse(path: r.path, kind: r.kind, size: r.size, mtimeNs: r.mtimeNs) : FileUse(path: r.path, kind: r.kind)
        }
    }

    func identity(_ r: TraceRecord) -> Identity { Identity(device: r.device, inode: r.inode, size: r.size, mtimeNs: r.mtimeNs) }

    /// `use` with the size, time and hash of the regular file at `path` now (none when it is gone).
    func now(_ use: FileUse, at path: String) -> FileUse {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return use }
        var u = use
        let id = Identity(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            mtimeNs: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
        (u.size, u.mtimeNs, u.sha256) = (id.size, id.mtimeNs, hash(path, as: id))
        return u
    }

    /// True the first time it is asked: a run says once why its attempts go unobserved.
    func firstUntraced() -> Bool {
        lock.withLock {
            defer { warned = true }
            return !warned
        }
    }

    /// Hashes the inputs of `records` in the background (into the cache), so that the attempt's end finds them.
    func hashSoon(_ records: [TraceRecord]) {
        let inputs = records.filter { $0.kind.consumes && !$0.isVirtual }
        guard !inputs.isEmpty else { return }
        hashing.async {
            for r in inputs { _ = self.hash(r.path, as: self.identity(r)) }
        }
    }

    /// The SHA-256 of the file at `path`, which must still be the file `id` describes (else nil: it changed or went
    /// after its use); from the cache when it holds it.
    func hash(_ path: String, as id: Identity) -> String? {
        if let known = lock.withLock({ hashes[id] }) { return known }
        guard let digest = SHA256.hex(ofFile: path, device: id.device, inode: id.inode, size: id.size, mtimeNs: id.mtimeNs) else { return nil }
        lock.withLock {
            if hashes.count > Self.remembered { hashes.removeAll(keepingCapacity: true) }
            hashes[id] = digest
        }
        return digest
    }
}

/// Why file tracing can be unavailable, as the record says it.
enum FileTracing {
    /// The reason for an attempt left untraced, from the errno clowdr-shim met installing its filter.
    static func reason(errno: Int32) -> String {
        let what = String(cString: strerror(errno))
        switch errno {
        case ENOSYS, EINVAL: return "this kernel has no seccomp user notification (Linux 5.5 or later is needed): \(what)"
        case EBUSY: return "the attempt's processes are traced this way already (clowdr under clowdr, or a sandbox's own filter): \(what)"
        case EPERM, EACCES: return "this system refuses seccomp filters to this user (a sandbox or container policy): \(what)"
        default: return "the file tracing filter could not be installed: \(what)"
        }
    }
}

/// Where an attempt was told to read and write: its working folder, its File inputs, its outputs and configuration
/// files, and the temporary folders. A use elsewhere, of a file that is not the system's, is undeclared.
struct DeclaredPlaces {
    var cwd: String
    /// Absolute paths: a use of one, or of anything under one, is declared.
    var roots: [String]

    init(cwd: String, paths: [String]) {
        self.cwd = cwd
        let temporary = ["/tmp", "/var/tmp", "/dev/shm", ProcessInfo.processInfo.environment["TMPDIR"]].compactMap { $0 }
        roots = ([cwd] + paths.map { PythonFormat.abspath($0, cwd: cwd) } + temporary).map {
            $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0
        }
    }

    /// The declared places of an attempt: File inputs' values (one or a list), outputs, configuration files.
    init(cwd: String, descriptor: Descriptor, rendered: RenderedInvocation) {
        var paths: [String] = []
        for input in descriptor.inputs where input.type == .file {
            switch rendered.invocation[input.id] {
            case .string(let s)?: paths.append(s)
            case .array(let items)?: paths += items.compactMap(\.stringValue)
            default: break
            }
        }
        paths += rendered.outputs.map(\.path) + rendered.configFiles.map(\.path)
        self.init(cwd: cwd, paths: paths)
    }

    func isDeclared(_ path: String) -> Bool { roots.contains { path == $0 || path.hasPrefix($0 == "/" ? "/" : $0 + "/") } }

    /// The paths of a use that are undeclared: none for a listing, a system file or a declared place.
    func undeclaredPaths(_ use: FileUse) -> [String] {
        guard use.kind != .listed, FileGroup.of(use) != .system else { return [] }
        return ([use.path] + (use.to.map { [$0] } ?? [])).filter { !isDeclared($0) }
    }
}

/// How an attempt's container saw the host: its image, and the host folders mounted in it. A file a process in the
/// container named is the host's file when it lies in a mounted folder, else the image's own.
struct ContainerView {
    var image: String
    /// (host folder, container folder), longest container folder first.
    var mounts: [(host: String, container: String)]

    init(image: String, mounts: [String]) {
        self.image = image
        self.mounts = mounts.compactMap { m -> (String, String)? in
            let parts = m.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            return parts.count >= 2 ? (parts[0], parts[1]) : nil
        }.sorted { $0.1.count > $1.1.count }
    }

    /// The host path of a container path, when a mounted folder holds it.
    func hostPath(_ path: String) -> String? {
        for m in mounts where path == m.container || path.hasPrefix(m.container == "/" ? "/" : m.container + "/") {
            return m.host + path.dropFirst(m.container.count)
        }
        return nil
    }

    /// A record of a process in the container as a use: by its host path (and as a host file, hashed) when mounted,
    /// else the image's own file, with its size and time in the image (not hashed: the container is gone).
    func use(_ r: TraceRecord, hostUse: (TraceRecord) -> FileUse) -> FileUse {
        if let host = hostPath(r.path) {
            var mapped = r
            mapped.path = host
            mapped.to = r.to.map { hostPath($0) ?? $0 }
            mapped.inContainer = false
            return hostUse(mapped)
        }
        return FileUse(
            path: r.path, kind: r.kind, size: r.kind == .listed ? nil : r.size, mtimeNs: r.kind == .listed ? nil : r.mtimeNs, to: r.to, image: image)
    }
}
