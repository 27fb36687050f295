public import Boutiques
import CClowdrSystem
import Digest
public import EventLog
import Foundation
import JSON

/// Creating an experiment: the folder, the descriptor copy, each task's invocation, and the first events
/// (`experiment_created`, then `task_planned` for every task) in one transaction, before anything runs.
public enum ExperimentSetup {
    /// Creates the experiment under `provdir`. Nothing is left behind when it fails. With `writeInvocationFiles`, each
    /// task's `tasks/<task>.json` is written (and made durable) first; without, the caller writes them (see
    /// `InvocationFiles`).
    public static func create(
        provdir: String, descriptorPath: String, descriptor: Descriptor, tasks: [PlannedTask], invocationSources: [String], name: String?,
        options: [String: String], factory: EventFactory, writeInvocationFiles: Bool = true, backend: String = "local"
    ) throws -> (ExperimentLayout, EventLog) {
        let fm = FileManager.default
        try fm.createDirectory(atPath: provdir, withIntermediateDirectories: true)
        let created = factory.clock.now()
        let layout = ExperimentLayout(directory: (provdir as NSString).appendingPathComponent(ExperimentLayout.newID(at: created)))
        let staging = layout.directory + ".creating"
        do {
            let stagingLayout = ExperimentLayout(directory: staging)
            try fm.createDirectory(atPath: stagingLayout.tasks, withIntermediateDirectories: true)
            let descriptorData = try Data(contentsOf: URL(fileURLWithPath: descriptorPath))
            try descriptorData.write(to: URL(fileURLWithPath: staging + "/descriptor.json"))
            // One invocation file per task, from one thread: creations in one folder take the folder's lock in turn,
            // and a second thread would only spin on it (measured: 20% of the run's CPU, no time saved).
            if writeInvocationFiles { try InvocationFiles.write(tasks.map { ($0.id, $0.rendered.invocation) }, in: stagingLayout) }
            var events = [
                factory.make(
                    at: created,
                    .experimentCreated(
                        ExperimentCreated(
                            experiment: layout.id, name: name, descriptorSHA256: try SHA256.hex(ofFile: descriptorPath),
                            toolName: descriptor.name,
                            toolVersion: descriptor.toolVersion, invocations: invocationSources, options: options, backend: backend,
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
