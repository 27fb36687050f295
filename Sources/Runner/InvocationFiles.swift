public import EventLog
import Foundation
public import JSON

/// Each task's concrete invocation as a file, `tasks/<task>.json`: a copy of what the task's `task_planned` event
/// holds (the log is the record), for people, for `bosh exec launch`, and for workers (`clowdr task`), which read
/// it instead of the log.
///
/// `clowdr run --setup` writes them before it returns. `clowdr run` starts its tasks at once and writes them from
/// a thread of its own meanwhile: with 100,000 subjects, or a slow network file system, writing every file first
/// would hold back the first task for minutes. A run that ends early, or a controller killed mid-run, may leave
/// some unwritten; a rerun writes those of the tasks it selects, from the log.
public enum InvocationFiles {
    /// The file's text: the invocation, indented as bosh writes JSON.
    public static func text(_ invocation: JSONObject) -> String { TaskPlanned.invocationFileText(.object(invocation)) }

    /// Writes the files of `items` that do not exist yet, in order; throws at the first that cannot be written.
    /// Stops early when `cancel` is set (a stopped run; the rerun writes the rest).
    public static func write(_ items: [(task: String, invocation: JSONObject)], in layout: ExperimentLayout, cancel: CancellationFlag? = nil) throws {
        for (task, invocation) in items {
            if cancel?.cancelledBecause != nil { return }
            let path = layout.invocation(task)
            guard ExperimentSetup.writeNewFile(path, text(invocation)) || errno == EEXIST else {
                throw RunError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// Writes invocation files on a thread of its own; `wait()` returns when they are all written (or the run was
/// stopped: Ctrl-C must not wait for 100,000 files).
public final class InvocationFileWriter: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var failure: (any Error)?

    public init(_ items: [(task: String, invocation: JSONObject)], in layout: ExperimentLayout, cancel: CancellationFlag) {
        let thread = Thread { [self] in
            do { try InvocationFiles.write(items, in: layout, cancel: cancel) } catch { failure = error }
            done.signal()
        }
        thread.name = "clowdr.invocation-files"
        thread.start()
    }

    /// Waits for the last file; rethrows the failure that stopped the writing, if any. Call it once.
    public func wait() throws {
        done.wait()
        if let failure { throw failure }
    }
}
