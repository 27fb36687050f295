public import Boutiques
import CClowdrSystem
import Digest
public import EventLog
import Foundation

/// A flag that asks running work to stop (set from a signal handler or a test); thread-safe.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var reason: String?
    /// A flag whose cancellation cancels this one too (a run's, for one of its attempts).
    private let parent: CancellationFlag?
    public init(parent: CancellationFlag? = nil) { self.parent = parent }
    /// Asks everything to stop, for `reason` (e.g. "SIGINT").
    public func cancel(_ reason: String) { lock.withLock { if self.reason == nil { self.reason = reason } } }
    /// Why, once cancelled (this flag or its parent).
    public var cancelledBecause: String? { lock.withLock { reason } ?? parent?.cancelledBecause }
}

/// How attempts run on this machine.
public struct RunOptions: Sendable {
    /// Attempts at once.
    public var jobs: Int
    /// Seconds between samples after the first `denseWindow` seconds (which are sampled every `denseInterval`).
    public var sampleInterval: Double = 1
    public var denseInterval: Double = 0.1
    public var denseWindow: Double = 2
    /// Folder tasks run in: relative paths in invocations and outputs resolve against it.
    public var workingDirectory: String
    /// Run the descriptor's container with this engine and these options (nil: bare metal).
    public var container: ContainerOptions?
    /// Seconds between SIGTERM and SIGKILL when attempts are stopped.
    public var graceSeconds: Double = 5
    /// Hand back the pages of the process's code after each sample (a worker alone in a job whose memory limit it
    /// shares with the tool: `clowdr task`), so that the scheduler's figures are the tool's but for a few MB.
    public var releaseCodePages = false
    /// Local folders whose files are moved elsewhere once the attempt ends (folder to final place): outputs found
    /// under one are recorded at their final place (`TaskFile.outputPlaces`).
    public var outputPlaces: [String: String] = [:]

    /// Where a file at `path` ends up: under the longest folder of `outputPlaces` that holds it, else `path`.
    public func finalPlace(of path: String) -> String {
        let folder = outputPlaces.keys.filter { path == $0 || path.hasPrefix($0 + "/") }.max { $0.count < $1.count }
        guard let folder, let place = outputPlaces[folder] else { return path }
        let rest = path.dropFirst(folder.count).drop { $0 == "/" }
        return rest.isEmpty ? place : (place.hasSuffix("/") ? place : place + "/") + rest
    }

    public init(jobs: Int, workingDirectory: String) {
        self.jobs = max(1, jobs)
        self.workingDirectory = workingDirectory
    }
}

/// Runs one attempt of one task: spawns its command line in its own process group (through `/bin/sh -c`, as bosh
/// does, or in a container), streams stdout and stderr to files, samples the whole process tree, and records
/// everything as events: submitted, started, samples, then exited (or launch failed, or cancelled).
public struct AttemptExecutor: Sendable {
    public let layout: ExperimentLayout
    public let descriptor: Descriptor
    public let options: RunOptions
    public let sink: any QueuedEventSink
    /// The backend recorded in `task_submitted`.
    public var backend = "local"
    /// Whether this process records `task_submitted` (it does for local runs; a cluster or cloud worker does not:
    /// its controller recorded the submission, with the scheduler's id).
    public var recordsSubmission = true
    public let factory: EventFactory
    let reader = ProcessTreeReader()
    let renderer: Renderer
    /// clowdr's own environment, which every attempt inherits; and the same as C strings, built once, for the
    /// attempts that add nothing to it.
    let baseEnvironment: [String: String]
    let baseEnvp: CStrings

    public init(layout: ExperimentLayout, descriptor: Descriptor, options: RunOptions, sink: any QueuedEventSink, factory: EventFactory) {
        self.layout = layout
        self.descriptor = descriptor
        self.options = options
        self.sink = sink
        self.factory = factory
        renderer = Renderer(descriptor, workingDirectory: options.workingDirectory)
        baseEnvironment = ProcessInfo.processInfo.environment
        baseEnvp = CStrings(baseEnvironment.map { "\($0.key)=\($0.value)" })
    }

    /// Runs the attempt to its end and returns the state it ended in.
    public func run(task: String, attempt: Int, rendered: RenderedInvocation, cancel: CancellationFlag) -> TaskState {
        func post(_ body: EventBody, at time: Timestamp? = nil) {
            sink.post([time.map { factory.make(at: $0, task: task, attempt: attempt, body) } ?? factory.make(task: task, attempt: attempt, body)])
        }
        func launchFailed(_ reason: String) -> TaskState {
            post(.taskLaunchFailed(TaskLaunchFailed(reason: reason, backend: backend)))
            return .failed
        }
        let fm = FileManager.default
        // The streams' folder exists already (it holds the invocations), unless a task file points elsewhere.
        if access(layout.tasks, F_OK) != 0 {
            do { try fm.createDirectory(atPath: layout.tasks, withIntermediateDirectories: true) } catch {
                return launchFailed("cannot create \(layout.tasks): \(error)")
            }
        }
        // stdout and stderr through pipes, into files made on their first byte.
        var out: StreamRelay
        var err: StreamRelay
        do {
            out = try StreamRelay(path: layout.stdout(task, attempt))
            err = try StreamRelay(path: layout.stderr(task, attempt))
        } catch { return launchFailed("\(error)") }
        defer {
            out.close()
            err.close()
        }
        /// Moves what arrived on the streams `clowdr_wait_any` found ready (its bits 2 and 4).
        func pump(_ ready: Int32) {
            guard ready > 0 else { return }
            if ready & 2 != 0 { out.pump() }
            if ready & 4 != 0 { err.pump() }
        }

        // Config files (file-template) first, relative to the working directory.
        for c in rendered.configFiles {
            let path = PythonFormat.abspath(c.path, cwd: options.workingDirectory)
            do {
                try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(c.content.utf8).write(to: URL(fileURLWithPath: path))
            } catch { return launchFailed("cannot write the config file \(path): \(error)") }
        }

        // The command: bare metal through /bin/sh -c, or the container engine's command.
        var command = rendered.commandLine
        var added: [(name: String, value: String)] = []
        if let container = options.container, descriptor.container?.image != nil {
            do {
                let launch = try renderer.containerLaunch(
                    rendered, options: container, cwd: options.workingDirectory, scriptName: ".clowdr-\(layout.id)-\(task)-\(attempt).sh")
                try Data(launch.scriptContent.utf8).write(to: URL(fileURLWithPath: launch.scriptPath))
                chmod(launch.scriptPath, 0o755)
                command = launch.command
            } catch { return launchFailed("\(error)") }
        } else {
            added = renderer.environment(rendered)
        }
        let envp: CStrings
        if added.isEmpty {
            envp = baseEnvp
        } else {
            var environment = baseEnvironment
            for e in added { environment[e.name] = e.value }
            envp = CStrings(environment.map { "\($0.key)=\($0.value)" })
        }

        if recordsSubmission { post(.taskSubmitted(TaskSubmitted(backend: backend))) }
        // Through clowdr-shim when there is one (its report has the command's exact peak memory), else directly.
        var argv = ["/bin/sh", "-c", command]
        var report: (read: Int32, write: Int32) = (-1, -1)
        if let shim = Shim.path {
            var fds: [Int32] = [-1, -1]
            let rc = clowdr_cloexec_pipe(&fds)
            guard rc == 0 else { return launchFailed("cannot make a pipe: \(String(cString: strerror(-rc)))") }
            report = (fds[0], fds[1])
            argv = [shim, "3", "/bin/sh"] + argv
        }
        let startClock = DispatchTime.now().uptimeNanoseconds
        let pid = Self.spawn(argv, envp, cwd: options.workingDirectory, stdout: out.childEnd, stderr: err.childEnd, fd3: report.write)
        out.closeChildEnd()
        err.closeChildEnd()
        if report.write >= 0 { close(report.write) }
        guard pid > 0 else {
            if report.read >= 0 { close(report.read) }
            return launchFailed("cannot start \(argv[0]): \(String(cString: strerror(-pid)))")
        }
        post(.taskStarted(TaskStarted(host: HostInfo.hostname, pid: pid, bootID: HostInfo.bootID)))
        // A worker alone in a job: what its start touched (the task's files, the descriptor, the command line: well over
        // 10 MB of code and heap) leaves its resident size now, not at the first sample, which a loaded node may delay.
        if options.releaseCodePages { _ = clowdr_release_file_pages() }

        // Wait for the exit, sampling the tree: densely at first, then every sample interval.
        let pidfd = clowdr_pidfd_open(pid)
        var peakRSS: Int64 = 0
        var last: Sample?
        var termSentAt: UInt64?
        var killed = false
        var cancelledFor: String?
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - startClock) / 1e9 }
        var nextSample = options.denseInterval
        while true {
            let wait = max(0, min(nextSample - elapsed(), 0.05))
            // The exit (through the pidfd) or output to move, whichever comes first.
            let ready = clowdr_wait_any(pidfd, out.pipe, err.pipe, Int32(wait * 1000))
            pump(ready)
            if pidfd >= 0 {
                if ready > 0 && ready & 1 != 0 { break }
            } else {
                // No pidfd (old kernel): poll with waitid(WNOWAIT) so the process stays to be reaped below.
                var info = siginfo_t()
                if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == pid { break }
            }
            if let reason = cancel.cancelledBecause {
                if termSentAt == nil {
                    cancelledFor = reason
                    kill(-pid, SIGTERM)
                    termSentAt = DispatchTime.now().uptimeNanoseconds
                } else if !killed, Double(DispatchTime.now().uptimeNanoseconds - termSentAt!) / 1e9 >= options.graceSeconds {
                    kill(-pid, SIGKILL)
                    killed = true
                }
            }
            let t = elapsed()
            if t >= nextSample {
                if let (sample, hwm) = reader.sample(roots: [pid], excludingRoots: report.read >= 0)[pid] {
                    peakRSS = max(peakRSS, sample.rss, hwm)
                    last = sample
                    post(.sample(sample))
                }
                // A worker alone in a job: what its own code touched since the last sample leaves its resident size
                // (a scheduler's sum of resident sizes would count it as the tool's), cheap to fault in again.
                if options.releaseCodePages { _ = clowdr_release_file_pages() }
                nextSample = t < options.denseWindow ? t + options.denseInterval : t + options.sampleInterval
            }
        }
        if pidfd >= 0 { close(pidfd) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        // A stop that reached the command before this process noticed it (a scheduler's scancel signals every
        // process of the job at once): killed by a signal with a cancellation on its way is a cancellation.
        if cancelledFor == nil, (status & 0x7f) != 0 || ((status >> 8) & 0xff) > 128 {
            for _ in 0..<20 where cancel.cancelledBecause == nil { usleep(10_000) }
            cancelledFor = cancel.cancelledBecause
        }
        // A stopped attempt leaves nothing behind: whatever is left of its process group is killed too.
        if cancelledFor != nil { kill(-pid, SIGKILL) }
        let wall = elapsed()
        // The rest of the output: to the end of both streams, normally at once (every writer has exited). A process
        // left behind that keeps a stream open gets 1 s, or until it is quiet for 0.2 s; then the stream is closed.
        let drainUntil = elapsed() + 1
        while out.pipe >= 0 || err.pipe >= 0, elapsed() < drainUntil {
            let ready = clowdr_wait_any(-1, out.pipe, err.pipe, 200)
            guard ready > 0 else { break }
            pump(ready)
        }
        // The kernel's totals for the command and everything it reaped: exact even for a task shorter than one
        // sample. From the shim's report when there is one; else from the top process's own rusage, whose
        // ru_maxrss is not used (it holds clowdr's own peak, inherited across the exec).
        var exitCode: Int32? = (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
        var signal: Int32? = (status & 0x7f) == 0 ? nil : status & 0x7f
        var cpuUser = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        var cpuSystem = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        var blocks = (read: Int64(usage.ru_inblock), written: Int64(usage.ru_oublock))
        if report.read >= 0, let shim = Shim.readReport(report.read) {
            (exitCode, signal) = (shim.exitCode, shim.signal)
            (cpuUser, cpuSystem) = (shim.cpuUser, shim.cpuSystem)
            blocks = (shim.readBlocks, shim.writeBlocks)
            peakRSS = max(peakRSS, shim.maxRSS)
        }
        let readBytes = max(last?.readBytes ?? 0, blocks.read * 512)
        let writeBytes = max(last?.writeBytes ?? 0, blocks.written * 512)

        // Outputs: each resolved path (a glob, as bosh does) with its size and sha256.
        var outputs: [OutputFile] = []
        // A stream that could not be saved fails the attempt: its record would be incomplete.
        var failure: String? = out.failure ?? err.failure
        for (id, path) in rendered.outputs {
            let absolute = PythonFormat.abspath(path, cwd: options.workingDirectory)
            let matches = Self.glob(absolute)
            let output = descriptor.outputs.first { $0.id == id }
            guard let found = matches.first else {
                outputs.append(OutputFile(id: id, path: options.finalPlace(of: absolute)))
                if output?.optional == false && failure == nil { failure = "missing output \(id)" }
                continue
            }
            for m in (output?.list == true ? matches : [found]) {
                let attributes = try? FileManager.default.attributesOfItem(atPath: m)
                let isFile = (attributes?[.type] as? FileAttributeType) == .typeRegular
                let size = (attributes?[.size] as? NSNumber)?.int64Value
                outputs.append(OutputFile(id: id, path: options.finalPlace(of: m), size: size, sha256: isFile ? try? SHA256.hex(ofFile: m) : nil))
            }
        }
        if let cancelledFor { post(.taskCancelled(TaskCancelled(reason: cancelledFor, signal: killed ? SIGKILL : SIGTERM))) }
        let exited = TaskExited(
            exitCode: exitCode, signal: signal, wallTime: wall, cpuUser: cpuUser, cpuSystem: cpuSystem, peakRSS: peakRSS, readBytes: readBytes,
            writeBytes: writeBytes, outputs: outputs, failureReason: exitCode == 0 && signal == nil ? failure : nil)
        post(.taskExited(exited))
        if cancelledFor != nil { return .cancelled }
        return exited.succeeded ? .succeeded : .failed
    }

    static func spawn(_ argv: [String], _ envp: CStrings, cwd: String, stdout: Int32, stderr: Int32, fd3: Int32) -> Int32 {
        let args = CStrings(argv)
        return args.withPointers { a in envp.withPointers { e in clowdr_spawn(argv[0], a, e, cwd, stdout, stderr, fd3) } }
    }

    /// Paths matching a glob pattern, sorted (the path itself when it has no wildcard and exists).
    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Foundation.glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }
}

/// A NULL-terminated array of C strings (an argv or envp), copied once and freed with the value.
final class CStrings: @unchecked Sendable {
    private let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) { pointers = strings.map { strdup($0) } + [nil] }
    deinit { for p in pointers { free(p) } }

    /// The array as `execve` takes it. The strings are never written: sharing one value between threads is safe.
    func withPointers<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
