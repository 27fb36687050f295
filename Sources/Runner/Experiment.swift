public import Boutiques
import CSystem
public import EventLog
import Foundation
import JSON

/// Where an experiment's files are:
///
///     PROVDIR/<experiment-id>/
///       clowdr.db                          the event log
///       descriptor.json                    exact copy of the descriptor
///       tasks/<task>/invocation.json       the task's concrete invocation (defaults added)
///       tasks/<task>/<attempt>/stdout      each attempt's output streams
///       tasks/<task>/<attempt>/stderr
public struct ExperimentLayout: Sendable {
    public var directory: String

    public init(directory: String) { self.directory = directory }

    public var id: String { (directory as NSString).lastPathComponent }
    public var log: String { directory + "/" + EventLog.fileName }
    public var descriptor: String { directory + "/descriptor.json" }
    public func invocation(_ task: String) -> String { directory + "/tasks/\(task)/invocation.json" }
    public func attemptDirectory(_ task: String, _ attempt: Int) -> String { directory + "/tasks/\(task)/\(attempt)" }
    public func stdout(_ task: String, _ attempt: Int) -> String { attemptDirectory(task, attempt) + "/stdout" }
    public func stderr(_ task: String, _ attempt: Int) -> String { attemptDirectory(task, attempt) + "/stderr" }

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

/// Creating an experiment: the folder, the descriptor copy, each task's invocation, and the first events
/// (`experiment_created`, then `task_planned` for every task) in one transaction, before anything runs.
public enum ExperimentSetup {
    /// Creates the experiment under `provdir`. Nothing is left behind when it fails.
    public static func create(
        provdir: String, descriptorPath: String, descriptor: Descriptor, tasks: [PlannedTask], invocationSources: [String], name: String?,
        options: [String: String], factory: EventFactory
    ) throws -> (ExperimentLayout, EventLog) {
        let fm = FileManager.default
        try fm.createDirectory(atPath: provdir, withIntermediateDirectories: true)
        let created = factory.clock.now()
        let layout = ExperimentLayout(directory: (provdir as NSString).appendingPathComponent(ExperimentLayout.newID(at: created)))
        let staging = layout.directory + ".creating"
        do {
            try fm.createDirectory(atPath: staging + "/tasks", withIntermediateDirectories: true)
            let descriptorData = try Data(contentsOf: URL(fileURLWithPath: descriptorPath))
            try descriptorData.write(to: URL(fileURLWithPath: staging + "/descriptor.json"))
            // One folder and one invocation file per task: written in parallel (file creation waits on the disk).
            let failures = FailureBox()
            DispatchQueue.concurrentPerform(iterations: tasks.count) { k in
                let t = tasks[k]
                let folder = staging + "/tasks/\(t.id)"
                let text = JSONWriter(indent: 4).string(.object(t.rendered.invocation)) + "\n"
                guard mkdir(folder, 0o755) == 0 || errno == EEXIST, ExperimentSetup.writeNewFile(folder + "/invocation.json", text)
                else { return failures.record("cannot write \(folder)/invocation.json: \(String(cString: strerror(errno)))") }
            }
            if let failure = failures.first { throw RunError(failure) }
            var events = [
                factory.make(
                    at: created,
                    .experimentCreated(
                        ExperimentCreated(
                            experiment: layout.id, name: name, descriptorSHA256: try HostInfo.sha256(ofFile: descriptorPath),
                            toolName: descriptor.name,
                            toolVersion: descriptor.toolVersion, invocations: invocationSources, options: options, backend: "local",
                            user: HostInfo.user,
                            host: HostInfo.hostname, clowdrVersion: ClowdrVersion.current, os: HostInfo.os, controller: HostInfo.controller())))
            ]
            for t in tasks {
                events.append(
                    factory.make(
                        task: t.id,
                        .taskPlanned(
                            TaskPlanned(
                                invocation: .object(t.rendered.invocation), commandLine: t.rendered.commandLine, labels: t.labels, source: t.source)))
                )
            }
            // Written and closed before the folder takes its name, so no half-made experiment is ever visible.
            try { try EventLog(path: staging + "/" + EventLog.fileName, mode: .create).append(events) }()
            // Everything in the staging folder reaches the disk with one syncfs (not one fsync per file), then the
            // folder takes its name, and the rename itself is made durable.
            try ExperimentSetup.sync(staging, wholeFileSystem: true)
            try fm.moveItem(atPath: staging, toPath: layout.directory)
            try ExperimentSetup.sync(provdir, wholeFileSystem: false)
            return (layout, try EventLog(path: layout.log, mode: .readWrite))
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
    }
}

extension ExperimentSetup {
    /// Creates `path` (which must not exist) with `text`, without FileManager's temporary name, rename and fsync
    /// per file: the caller makes the whole folder durable at once.
    static func writeNewFile(_ path: String, _ text: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var text = text
        return text.withUTF8 { buf in
            var done = 0
            while done < buf.count {
                let n = write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
    }

    /// Flushes the folder `path` to the disk: with `wholeFileSystem`, every file written so far on its file system
    /// (syncfs, one call for the whole staging folder); otherwise the folder's own entries (fsync, for a rename).
    static func sync(_ path: String, wholeFileSystem: Bool) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw RunError("cannot open \(path) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard (wholeFileSystem ? clowdr_syncfs(fd) : fsync(fd)) == 0 else {
            throw RunError("cannot sync \(path) to the disk: \(String(cString: strerror(errno)))")
        }
    }
}

/// The first failure of a parallel loop.
final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var message: String?
    func record(_ m: String) { lock.withLock { if message == nil { message = m } } }
    var first: String? { lock.withLock { message } }
}
