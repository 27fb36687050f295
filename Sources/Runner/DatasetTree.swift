import Foundation

/// The files of a dataset as the BIDS planner reads them: a local folder, or a prefix of an object store
/// (`s3://bucket/ds`), where "folders" are key prefixes. Paths are the dataset's own (`root + "/sub-01"`).
public protocol DatasetTree: Sendable {
    /// The names of the `prefix*` folders directly in `dir`, sorted.
    func folders(_ dir: String, prefix: String) -> [String]
    /// True when `dir` or a folder beneath it holds a file (hidden files such as `.gitkeep` are not data).
    func holdsAFile(_ dir: String) -> Bool
    /// A file's text, or nil when there is no such file.
    func text(_ path: String) -> String?
    /// Whether there is a file at `path`.
    func fileExists(_ path: String) -> Bool
}

/// A dataset on this machine's file system.
public struct LocalDatasetTree: DatasetTree {
    public init() {}

    public func folders(_ dir: String, prefix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { n in
            var isDir: ObjCBool = false
            return n.hasPrefix(prefix) && FileManager.default.fileExists(atPath: dir + "/" + n, isDirectory: &isDir) && isDir.boolValue
        }.sorted()
    }

    public func holdsAFile(_ dir: String) -> Bool {
        guard let walker = FileManager.default.enumerator(atPath: dir) else { return false }
        while let name = walker.nextObject() as? String {
            if walker.fileAttributes?[.type] as? FileAttributeType != .typeDirectory, !(name as NSString).lastPathComponent.hasPrefix(".") {
                return true
            }
        }
        return false
    }

    public func text(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    public func fileExists(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }
}

/// A dataset known by the list of its files' paths (an object store's listing, read once): folders are the
/// paths' prefixes. `read` fetches a file's bytes when asked.
public struct ListedDatasetTree: DatasetTree {
    /// Every file's path, sorted.
    let files: [String]
    let read: @Sendable (String) -> String?

    public init(files: [String], read: @escaping @Sendable (String) -> String?) {
        self.files = files.sorted()
        self.read = read
    }

    /// The paths under `dir/` (a binary search to the first, then in order).
    func under(_ dir: String) -> ArraySlice<String> {
        let prefix = dir.hasSuffix("/") ? dir : dir + "/"
        var low = 0
        var high = files.count
        while low < high {
            let mid = (low + high) / 2
            if files[mid] < prefix { low = mid + 1 } else { high = mid }
        }
        var end = low
        while end < files.count && files[end].hasPrefix(prefix) { end += 1 }
        return files[low..<end]
    }

    public func folders(_ dir: String, prefix: String) -> [String] {
        let base = dir.count + 1
        var names = Set<String>()
        for path in under(dir) {
            let rest = path.dropFirst(base)
            guard let slash = rest.firstIndex(of: "/") else { continue }
            let name = rest[..<slash]
            if name.hasPrefix(prefix) { names.insert(String(name)) }
        }
        return names.sorted()
    }

    public func holdsAFile(_ dir: String) -> Bool {
        under(dir).contains { !$0.split(separator: "/").last!.hasPrefix(".") }
    }

    public func text(_ path: String) -> String? { fileExists(path) ? read(path) : nil }

    public func fileExists(_ path: String) -> Bool {
        // Not NSString's path functions: they fold the `//` of `s3://`.
        guard let slash = path.lastIndex(of: "/") else { return false }
        return under(String(path[..<slash])).contains(path)
    }
}
