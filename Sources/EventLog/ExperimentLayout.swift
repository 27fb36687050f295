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
    /// Where workers on other machines write their events (`*.ndjson`), which every command that reads the
    /// experiment ingests first.
    public var segments: String { directory + "/segments" }
    /// The segment in which a controller records what it submitted to a scheduler (`task_submitted`), `token`
    /// naming the controller: `segments/controller-<token>.ndjson`. Ingest reads such segments before the
    /// workers', so an attempt's submission comes before its start in the log.
    public func controllerSegment(_ token: String) -> String { segments + "/" + ExperimentLayout.controllerSegmentPrefix + token + ".ndjson" }
    /// `controller-`: how the name of a controller's segment begins.
    public static let controllerSegmentPrefix = "controller-"
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

    /// Whether `name` is an experiment id as `newID` makes them (`2026-11-22_18-27-19-K3F9Q2ZA`).
    public static func isExperimentID(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard u.count == 28 else { return false }
        let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        let separators: [Int: UInt8] = [4: 45, 7: 45, 10: 95, 13: 45, 16: 45, 19: 45]
        return digits.allSatisfy { u[$0] >= 48 && u[$0] <= 57 } && separators.allSatisfy { u[$0.key] == $0.value }
            && u[20...].allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) }
    }

    /// The experiments of a PROVDIR, oldest first: its folders named by an experiment id that hold a log.
    public static func experiments(inProvdir dir: String) -> [ExperimentLayout] {
        let fm = FileManager.default
        return ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).filter {
            isExperimentID($0) && fm.fileExists(atPath: "\(dir)/\($0)/\(EventLog.fileName)")
        }
        .sorted().map { ExperimentLayout(directory: dir + "/" + $0) }
    }

    /// Finds the experiment a user named: an experiment folder (one holding `clowdr.db`), that `clowdr.db` file, or
    /// a PROVDIR (its newest experiment). Anything else, such as a folder that merely holds some other folder
    /// with a database, is `EventLogError.notFound`.
    public static func locate(_ path: String) throws -> ExperimentLayout {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw EventLogError.notFound(path: path) }
        if !isDir.boolValue {
            guard (path as NSString).lastPathComponent == EventLog.fileName else { throw EventLogError.notFound(path: path) }
            return ExperimentLayout(directory: (path as NSString).deletingLastPathComponent)
        }
        if fm.fileExists(atPath: path + "/" + EventLog.fileName) { return ExperimentLayout(directory: path) }
        guard let newest = experiments(inProvdir: path).last else { throw EventLogError.notFound(path: path) }
        return newest
    }
}
