import ClowdrErrors
import EventLog
import Foundation
import JSON
import Query

/// Files other programs read are written under a temporary name beside the target, synced, then renamed into
/// place: a crash never leaves a partial file under the real name. The path `-` is standard output, streamed.
enum AtomicFile {
    static func write(to path: String, _ body: (BufferedOutput) throws -> Void) throws {
        if path == "-" {
            let out = BufferedOutput(FileHandle.standardOutput)
            try body(out)
            out.flush()
            return
        }
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let h = FileHandle(forWritingAtPath: tmp) else {
            throw ExportError("cannot create \(tmp)")
        }
        do {
            let out = BufferedOutput(h)
            try body(out)
            out.flush()
            try h.synchronize()
            try h.close()
            guard rename(tmp, path) == 0 else { throw ExportError("cannot rename \(tmp) to \(path): \(String(cString: strerror(errno)))") }
        } catch {
            try? h.close()
            unlink(tmp)
            throw error
        }
    }
}
