public import EventLog
import Foundation

/// Resources from the record, for `mem:auto` and `time:auto`: what each task used and was given in its attempts.
///
/// - `mem:auto` (or `memory:auto`) asks for the task's highest recorded peak (clowdr's own samples and exit, or the
///   scheduler's MaxRSS) times `margin`, rounded up to a MB; an attempt killed for memory gets at least twice what it
///   was given.
/// - `time:auto` asks for the task's longest recorded run times `margin`, in whole minutes; an attempt killed at its
///   time limit gets at least twice that limit.
/// A task with no record gets neither (the cluster's default applies).
///
/// A rerun starts from what each task's last attempt asked (`rerun(_:task:backend:)`): `--clusterargs` overrides it
/// key by key, and `KEY:` with no value removes a key.
public struct ResourceRecord: Sendable {
    public static let margin = 1.5

    struct TaskUsage {
        var peak: Int64 = 0
        var wall: Double = 0
        var requestedMemory: Int64?
        var timeLimit: Double?
        var lastClass: FailureClass?
        /// What its latest submitted attempt asked, and of which backend.
        var lastAsked: [String: String] = [:]
        var lastBackend: String?
    }
    var tasks: [String: TaskUsage] = [:]
    /// What the run asked (`--clusterargs` as the experiment records it) and on which backend: where a task never
    /// submitted (refused, or cancelled before) starts from.
    var runAsked: [String: String] = [:]
    var runBackend: String?

    public init(log: EventLog) throws {
        var requested: [String: [String: String]] = [:]  // "task/attempt" -> resources
        try log.forEachEvent(lifecycleOnly: true) { e in
            if e.task == nil, case .experimentCreated(let p)? = try? e.decoded().body {
                runAsked = (try? BackendRuns.parseResources(p.options[.clusterargs] ?? "")) ?? [:]
                runBackend = p.backend
            }
            guard let task = e.task, let body = try? e.decoded().body else { return }
            var t = tasks[task] ?? TaskUsage()
            switch body {
            case .taskSubmitted(let p):
                requested["\(task)/\(e.attempt ?? 0)"] = p.resources
                t.lastAsked = p.resources ?? [:]
                t.lastBackend = p.backend
            case .taskExited(let p):
                t.peak = max(t.peak, p.peakRSS)
                t.wall = max(t.wall, p.wallTime)
            case .taskEnded(let p):
                t.peak = max(t.peak, p.peakRSS ?? 0)
                t.wall = max(t.wall, p.wallTime ?? 0)
                t.lastClass = p.failureClass
                let r = requested["\(task)/\(e.attempt ?? 0)"] ?? [:]
                let requested = RequestedResources(r)
                t.requestedMemory = requested.memory
                t.timeLimit = requested.timeLimit
            default: return
            }
            tasks[task] = t
        }
    }

    /// What a rerun of `task` on `backend` asks: its last attempt's resources (when it ran on the same backend; the
    /// run's own for a task never submitted) with
    /// `given` over them key by key, a key given with no value removed, `auto` values worked out.
    public func rerun(_ given: [String: String], task: String, backend: String) -> [String: String] {
        let t = tasks[task]
        let inherited =
            if let last = t?.lastBackend { last == backend ? t?.lastAsked ?? [:] : [:] } else { runBackend == backend ? runAsked : [:] }
        return resolve(Self.merge(inherited, given), task: task)
    }

    /// Names of one resource: an override of any of them replaces the others (`memory:auto` over `mem:140M`).
    static let aliases: [[String]] = [["mem", "memory"], ["time", "t"], ["cpus", "cpus-per-task", "c", "vcpus"]]

    /// `base` with `overrides` over it key by key; an override with an empty value removes its key.
    public static func merge(_ base: [String: String], _ overrides: [String: String]) -> [String: String] {
        var out = base
        for (key, value) in overrides {
            for alias in aliases.first(where: { $0.contains(key) }) ?? [key] { out[alias] = nil }
            if !value.isEmpty { out[key] = value }
        }
        return out
    }

    /// The resources for one task: `auto` values worked out, the others as given.
    public func resolve(_ resources: [String: String], task: String) -> [String: String] {
        var r = resources.filter { !$0.value.isEmpty }
        let t = tasks[task]
        // Slurm's name, and AWS Batch's (both backends read either).
        for key in ["mem", "memory"] where resources[key] == "auto" {
            r[key] = nil
            var bytes = Double(t?.peak ?? 0) * Self.margin
            if t?.lastClass == .oom, let given = t?.requestedMemory { bytes = max(bytes, 2 * Double(given)) }
            if bytes > 0 { r[key] = "\(Int((bytes / 1_048_576).rounded(.up)))M" }
        }
        if resources["time"] == "auto" {
            r["time"] = nil
            var seconds = (t?.wall ?? 0) * Self.margin
            if t?.lastClass == .timeout, let limit = t?.timeLimit { seconds = max(seconds, 2 * limit) }
            if seconds > 0 { r["time"] = String(Int((seconds / 60).rounded(.up))) }
        }
        return r
    }
}
