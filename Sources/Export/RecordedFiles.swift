import Foundation
import JSON
import Query

/// Paths as the record holds them, made absolute the one way the exports, the crate and the derivatives' description
/// agree on.
enum RecordedPath {
    /// `path` joined to `base` (the attempt's working directory when the record has it, else this process's) when it
    /// is relative; `.` and `..` resolved by name.
    static func absolute(_ path: String, base: String? = nil) -> String {
        let joined = path.hasPrefix("/") ? path : (base ?? FileManager.default.currentDirectoryPath) + "/" + path
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }
}

extension ExitRow {
    /// The outputs the exit found (those with a size): (id, path, sha256), read from its JSON in one place.
    func existingOutputs() throws -> [PROVExport.Output] {
        let list = try outputs.map { try JSONParser.parse($0).arrayValue ?? [] } ?? []
        return list.compactMap { o in
            guard let id = o["id"]?.stringValue, let path = o["path"]?.stringValue, o["size"]?.isNull == false else { return nil }
            return (id, path, o["sha256"]?.stringValue)
        }
    }
}
