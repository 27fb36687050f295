import CClowdrSystem
import Foundation

/// One of an attempt's output streams (stdout or stderr). The task writes into a pipe; the attempt's own thread
/// moves whatever arrives into the stream's file (with splice: the bytes never pass through clowdr's memory). The
/// file is created on the first byte, so a stream that stays empty leaves no file (creating files costs short tasks
/// more than anything else they do).
struct StreamRelay {
    /// The file the stream goes to.
    let path: String
    /// The pipe's read end, -1 once the stream has ended.
    private(set) var pipe: Int32
    /// The pipe's write end, which the task inherits; -1 once closed here (right after the spawn).
    private(set) var childEnd: Int32
    private var file: Int32 = -1
    /// Why the stream could not be saved (the disk full, say); the rest of it is discarded.
    private(set) var failure: String?

    /// A new pipe for the stream at `path`. Unless the attempt is `new` (a local pool's: no run of it can have
    /// been before), a file left at `path` by an earlier run of the same attempt (a worker the scheduler started
    /// again) is removed, so what is there afterwards is this run's output, or nothing. Looked for first: an unlink
    /// locks the folder, which every other attempt is creating files in.
    init(path: String, new: Bool) throws {
        var fds: [Int32] = [-1, -1]
        let rc = clowdr_stream_pipe(&fds)
        guard rc == 0 else { throw RunError("cannot create a pipe for \(path): \(String(cString: strerror(-rc)))") }
        if !new && access(path, F_OK) == 0 { unlink(path) }
        self.path = path
        pipe = fds[0]
        childEnd = fds[1]
    }

    /// Closes the end the task writes to (the task holds its own copy).
    mutating func closeChildEnd() {
        if childEnd >= 0 { Foundation.close(childEnd) }
        childEnd = -1
    }

    /// Moves what the pipe holds now into the file; at the end of the stream, closes the pipe.
    mutating func pump() {
        guard pipe >= 0 else { return }
        while true {
            let n = clowdr_stream_relay(pipe, &file, path)
            if n > 0 { return }
            if n == 0 {
                Foundation.close(pipe)
                pipe = -1
                return
            }
            if n == -Int64(EAGAIN) { return }
            // The file cannot be created or written: say so once, and drain the rest into /dev/null so the task
            // never blocks on a full pipe.
            if failure == nil { failure = "cannot write \(path): \(String(cString: strerror(Int32(-n))))" }
            if file >= 0 { Foundation.close(file) }
            file = open("/dev/null", O_WRONLY | O_CLOEXEC)
            guard file >= 0 else {
                Foundation.close(pipe)
                pipe = -1
                return
            }
        }
    }

    /// Closes everything still open. A process left behind that still writes to the stream gets EPIPE.
    mutating func close() {
        closeChildEnd()
        if pipe >= 0 { Foundation.close(pipe) }
        if file >= 0 { Foundation.close(file) }
        pipe = -1
        file = -1
    }
}
