public import EventLog
import Foundation

/// The last lines of a file, read from its end (never the whole file).
public struct LogTail: Sendable {
    public var text: String
    /// The file's size in bytes (-1 when it could not be read).
    public var size: Int64
    /// True when `text` is the whole file.
    public var complete: Bool

    /// The last `lines` lines of the file at `path`, within its last `bytes` bytes (a cut first line is dropped).
    /// A file that cannot be read gives an empty, complete tail of size -1.
    public static func read(path: String, lines: Int, bytes: Int) -> LogTail {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return LogTail(text: "", size: -1, complete: true) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return LogTail(text: "", size: -1, complete: true) }
        let size = Int64(st.st_size)
        let want = Int(min(size, Int64(bytes)))
        var buffer = [UInt8](repeating: 0, count: want)
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(size - Int64(want))) }
        guard got >= 0 else { return LogTail(text: "", size: size, complete: true) }
        var slice = buffer[0..<got]
        var complete = Int64(got) == size
        if !complete, let nl = slice.firstIndex(of: UInt8(ascii: "\n")) { slice = slice[(nl + 1)...] }  // a partial first line
        // Keep the last `lines` lines (a final newline does not start another line).
        var count = 0
        var i = slice.endIndex
        if i > slice.startIndex, slice[i - 1] == UInt8(ascii: "\n") { i -= 1 }
        while i > slice.startIndex {
            i -= 1
            if slice[i] == UInt8(ascii: "\n") {
                count += 1
                if count == lines {
                    slice = slice[(i + 1)...]
                    complete = false
                    break
                }
            }
        }
        return LogTail(text: String(decoding: slice, as: UTF8.self), size: size, complete: complete)
    }

    /// The last `count` lines of a file that are not empty, from its last 64 KiB: what a summary shows of a log.
    public static func lastLines(of path: String, count: Int) -> [String] {
        read(path: path, lines: .max, bytes: 65536).text.split(whereSeparator: \.isNewline).suffix(count).map(String.init)
    }
}

extension LogTail {
    /// The last non-empty line of a file, read from its end (a huge stderr costs nothing); "" when there is none.
    public static func lastLine(of path: String) -> String { lastLines(of: path, count: 1).last ?? "" }

    /// How `attempt` of `task` failed, in the wording every command shares (`AttemptRecord.failureText`), with the
    /// last line of its stderr in `layout`. Nil when it succeeded or has not ended.
    public static func failureText(_ attempt: AttemptRecord, task: String, in layout: ExperimentLayout) -> String? {
        guard attempt.state.isTerminal, attempt.state != .succeeded else { return nil }
        return attempt.failureText(lastStderrLine: lastLine(of: layout.stderr(task, attempt.attempt)))
    }
}
