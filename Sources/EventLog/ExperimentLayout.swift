import Foundation

/// Where an experiment's files are:
///
///     PROVDIR/<experiment-id>/
///       clowdr.db                          the event log
///       descriptor.json                    exact copy of the descriptor
///       tasks/<task>.json                  the task's concrete invocation (defaults added)
///       tasks/<task>.<attempt>.stdout      each attempt's output streams
///       tasks/<task>.<attempt>.stderr
///
/// `tasks/` is flat, without a folder per task or per attempt: on ext4 a new directory costs several times a new
/// file (an inode chosen across block groups and a data block), and a run of short tasks would spend most of its
/// time making folders. The names cannot collide: invocations end in `.json`, streams in `.<number>.stdout` and
/// `.<number>.stderr`, and `ls tasks/<task>.*` lists everything of one task.
public struct ExperimentLayout: Sendable {
    public var directory: String

    public init(directory: String) { self.directory = directory }

    public var id: String { (directory as NSString).lastPathComponent }
    public var log: String { directory + "/" + EventLog.fileName }
    public var descriptor: String { directory + "/descriptor.json" }
    /// The folder of every task's files.
    public var tasks: String { directory + "/" + ExperimentLayout.tasksFolder }
    public func invocation(_ task: String) -> String { tasks + "/" + ExperimentLayout.invocationName(task) }
    public func stdout(_ task: String, _ attempt: Int) -> String { tasks + "/" + ExperimentLayout.streamName(task, attempt, "stdout") }
    public func stderr(_ task: String, _ attempt: Int) -> String { tasks + "/" + ExperimentLayout.streamName(task, attempt, "stderr") }

    /// `tasks`, the folder's name inside the experiment.
    public static let tasksFolder = "tasks"
    /// `<task>.json`
    public static func invocationName(_ task: String) -> String { task + ".json" }
    /// `<task>.<attempt>.stdout` or `.stderr`
    public static func streamName(_ task: String, _ attempt: Int, _ stream: String) -> String { "\(task).\(attempt).\(stream)" }
    /// Whether a file name in `tasks/` is one the layout writes (an invocation or a stream), for archives.
    public static func isTaskFileName(_ name: String) -> Bool {
        name.hasSuffix(".json") || name.hasSuffix(".stdout") || name.hasSuffix(".stderr")
    }

    /// A new experiment id: UTC time and 8 random characters, `2026-11-22_18-27-19-K3F9Q2ZA`, so ids sort by time.
    public static func newID(at time: Timestamp) -> String {
        let iso = time.iso8601  // 2026-11-22T18:27:19.123456Z
        let stamp = iso.prefix(19).replacingOccurrences(of: "T", with: "_").replacingOccurrences(of: ":", with: "-")
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return stamp + "-" + String((0..<8).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }

    /// Finds the experiment a user named: an experiment folder, its clowdr.db, or a PROVDIR (its newest
    /// experiment).
    public static func locate(_ path: String) throws -> ExperimentLayout {
        let fm = FileManager.default
        if path.hasSuffix(".db"), fm.fileExists(atPath: path) { return ExperimentLayout(directory: (path as NSString).deletingLastPathComponent) }
        if fm.fileExists(atPath: path + "/" + EventLog.fileName) { return ExperimentLayout(directory: path) }
        let children = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { fm.fileExists(atPath: path + "/" + $0 + "/" + EventLog.fileName) }
            .sorted()
        guard let newest = children.last else {
            throw EventLogError.notFound(path: path)
        }
        return ExperimentLayout(directory: path + "/" + newest)
    }
}
