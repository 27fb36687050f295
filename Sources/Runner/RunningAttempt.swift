import Boutiques
import CClowdrSystem
import Digest
import EventLog
import Foundation

/// One attempt while it runs: the steps `AttemptExecutor.run` takes, in order, and what they share (the streams,
/// the process, the peak seen, why it was stopped). Each step reads on its own; a step that cannot go on throws a
/// `LaunchFailure`, which the attempt records as `task_launch_failed`.
final class RunningAttempt {
    let executor: AttemptExecutor
    let task: String
    let attempt: Int
    let rendered: RenderedInvocation
    let cancel: CancellationFlag
    var options: RunOptions { executor.options }
    var layout: ExperimentLayout { executor.layout }

    // The streams (pipes into files made on their first byte), and the read end of the server's report pipe.
    var out: StreamRelay?
    var err: StreamRelay?
    var reportPipe: Int32 = -1
    /// The memory file the server writes the attempt's file records to as it makes them (when files are traced),
    /// how far it was read, and the records read so far.
    var records: Int32 = -1
    /// How the attempt's container (when it has one) sees the host's files.
    var containerView: ContainerView?
    /// The engine, image and image file (Singularity, Apptainer) of the attempt's container, when it has one.
    var containerImage: (engine: ContainerEngine, image: String, file: String?)?
    var recordsRead: off_t = 0
    var traced: [TraceRecord] = []
    // The process and what supervising it found.
    var pid: Int32 = 0
    var startClock: UInt64 = 0
    var peakRSS: Int64 = 0
    var last: Sample?
    var termSentAt: UInt64?
    var killed = false
    var cancelledFor: String?
    var status: Int32 = 0
    var rusage = Glibc.rusage()
    var wall = 0.0
    /// The server's report on the command, when it wrote one; `shimLost` when it was killed before it did.
    var shim: Shim.Report?
    var shimLost = false

    /// Why an attempt could not be started (its `task_launch_failed` reason).
    struct LaunchFailure: Error, CustomStringConvertible {
        var description: String
        init(_ reason: String) { description = reason }
    }

    init(executor: AttemptExecutor, task: String, attempt: Int, rendered: RenderedInvocation, cancel: CancellationFlag) {
        self.executor = executor
        self.task = task
        self.attempt = attempt
        self.rendered = rendered
        self.cancel = cancel
    }

    func post(_ body: EventBody) { executor.sink.post([executor.factory.make(task: task, attempt: attempt, body)]) }

    func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - startClock) / 1e9 }

    /// Records why the attempt could not start.
    func launchFailed(_ error: any Error) -> TaskState {
        post(.taskLaunchFailed(TaskLaunchFailed(reason: "\(error)", backend: executor.backend)))
        return .failed
    }

    // MARK: - Before the start

    /// stdout and stderr through pipes, into files made on their first byte. The streams' folder exists already (it
    /// holds the invocations), unless a task file points elsewhere.
    func openStreams() throws {
        if access(layout.tasks, F_OK) != 0 {
            do { try FileManager.default.createDirectory(atPath: layout.tasks, withIntermediateDirectories: true) } catch {
                throw LaunchFailure("cannot create \(layout.tasks): \(error)")
            }
        }
        do {
            out = try StreamRelay(path: layout.stdout(task, attempt), new: executor.attemptsAreNew)
            err = try StreamRelay(path: layout.stderr(task, attempt), new: executor.attemptsAreNew)
        } catch { throw LaunchFailure("\(error)") }
    }

    func closeStreams() {
        out?.close()
        err?.close()
    }

    /// The descriptor's configuration files (file-template), relative to the working directory.
    func writeConfigFiles() throws {
        for c in rendered.configFiles {
            let path = PythonFormat.abspath(c.path, cwd: options.workingDirectory)
            do {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(c.content.utf8).write(to: URL(fileURLWithPath: path))
            } catch { throw LaunchFailure("cannot write the config file \(path): \(error)") }
        }
    }

    /// The command (bare metal through /bin/sh -c, or the container engine's) and its environment: clowdr's own,
    /// with the descriptor's variables on bare metal (a container gets them from its launch script).
    func commandAndEnvironment() throws -> (String, CStrings) {
        var command = rendered.commandLine
        var added: [(name: String, value: String)] = []
        if let container = options.container, executor.descriptor.container?.image != nil {
            do {
                let launch = try executor.renderer.containerLaunch(
                    rendered, options: container, cwd: options.workingDirectory, scriptName: ".clowdr-\(layout.id)-\(task)-\(attempt).sh")
                containerImage = (launch.engine, executor.descriptor.container?.image ?? "", launch.localImage)
                containerView = ContainerView(image: executor.descriptor.container?.image ?? "(unknown)", mounts: launch.mounts)
                try Data(launch.scriptContent.utf8).write(to: URL(fileURLWithPath: launch.scriptPath))
                chmod(launch.scriptPath, 0o755)
                command = launch.command
            } catch { throw LaunchFailure("\(error)") }
        } else {
            added = executor.renderer.environment(rendered)
        }
        guard !added.isEmpty else { return (command, executor.baseEnvp) }
        var environment = executor.baseEnvironment
        for e in added { environment[e.name] = e.value }
        return (command, CStrings(environment.map { "\($0.key)=\($0.value)" }))
    }

    // MARK: - Start and supervise

    /// Starts the command in its own process group, through the clowdr-shim server when there is one (its report
    /// has the command's exact peak memory), else directly; records the submission (a local run's) and the start.
    func start(_ command: String, _ envp: CStrings) throws {
        if executor.recordsSubmission { post(.taskSubmitted(TaskSubmitted(backend: executor.backend))) }
        let argv = CStrings(["/bin/sh", "-c", command])
        startClock = DispatchTime.now().uptimeNanoseconds
        if let supervisor = executor.supervisor {
            var fds: [Int32] = [-1, -1]
            let rc = clowdr_cloexec_pipe(&fds)
            guard rc == 0 else { throw LaunchFailure("cannot make a pipe: \(String(cString: strerror(-rc)))") }
            reportPipe = fds[0]
            if options.traceFiles { records = clowdr_memfd("clowdr-files") }
            pid = supervisor.run(
                argv, envp, cwd: options.workingDirectory, stdout: out!.childEnd, stderr: err!.childEnd, report: fds[1], records: records)
            close(fds[1])
        } else {
            pid = argv.withPointers { a in
                envp.withPointers { e in clowdr_spawn("/bin/sh", a, e, options.workingDirectory, out!.childEnd, err!.childEnd, -1) }
            }
        }
        out!.closeChildEnd()
        err!.closeChildEnd()
        guard pid > 0 else {
            if reportPipe >= 0 { close(reportPipe) }
            reportPipe = -1
            if pid == -ECONNABORTED, let path = executor.supervisor?.path {
                throw LaunchFailure("\(path) ended while it started the command: its processes, if any, are not watched")
            }
            throw LaunchFailure("cannot start /bin/sh: \(String(cString: strerror(-pid)))")
        }
        let host = HostInfo.facts
        let instance = HostInfo.instance
        post(
            .taskStarted(
                TaskStarted(
                    host: HostInfo.hostname, pid: pid, bootID: HostInfo.bootID, clowdrVersion: ClowdrVersion.current, cpuModel: host.cpuModel,
                    cpus: host.cpus, memory: host.memory, kernel: host.kernel, osRelease: host.osRelease, instanceType: instance?.type,
                    spot: instance?.spot)))
        // A worker alone in a job: what its start touched (the task's files, the descriptor, the command line: well
        // over 10 MB of code and heap) leaves its resident size now, not at the first sample, which a loaded node may
        // delay.
        if options.releaseCodePages { _ = clowdr_release_file_pages() }
    }

    /// Moves what arrived on the streams `clowdr_wait_any` found ready (its bits 2 and 4).
    func pump(_ ready: Int32) {
        guard ready > 0 else { return }
        if ready & 2 != 0 { out!.pump() }
        if ready & 4 != 0 { err!.pump() }
    }

    /// Waits for the exit, moving the output and sampling the tree (densely at first, then every sample interval),
    /// and stops the process group when the attempt is cancelled (SIGTERM, then SIGKILL after the grace period).
    func superviseAndSample() {
        // The end: the report pipe's (the server writes it and closes it when the command has ended), else a pidfd.
        let pidfd = reportPipe >= 0 ? -1 : clowdr_pidfd_open(pid)
        defer { if pidfd >= 0 { close(pidfd) } }
        let end = reportPipe >= 0 ? reportPipe : pidfd
        var nextSample = options.denseInterval
        while true {
            let wait = max(0, min(nextSample - elapsed(), 0.05))
            // The exit or output to move, whichever comes first.
            let ready = clowdr_wait_any(end, out!.pipe, err!.pipe, Int32(wait * 1000))
            pump(ready)
            if end >= 0 {
                if ready > 0 && ready & 1 != 0 { return }
            } else {
                // No pidfd (old kernel): poll with waitid(WNOWAIT) so the process stays to be reaped below.
                var info = siginfo_t()
                if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == pid { return }
            }
            stopIfCancelled()
            let t = elapsed()
            if t >= nextSample {
                sample()
                nextSample = t < options.denseWindow ? t + options.denseInterval : t + options.sampleInterval
            }
        }
    }

    /// SIGTERM to the process group once the attempt is cancelled; SIGKILL once the grace period is over.
    func stopIfCancelled() {
        guard let reason = cancel.cancelledBecause else { return }
        if termSentAt == nil {
            cancelledFor = reason
            kill(-pid, SIGTERM)
            termSentAt = DispatchTime.now().uptimeNanoseconds
        } else if !killed, Double(DispatchTime.now().uptimeNanoseconds - termSentAt!) / 1e9 >= options.graceSeconds {
            kill(-pid, SIGKILL)
            killed = true
        }
    }

    /// One sample of the whole tree, recorded; its peak kept.
    func sample() {
        pullRecords()
        if let (sample, hwm) = executor.reader.sample(roots: [pid])[pid] {
            peakRSS = max(peakRSS, sample.rss, hwm)
            last = sample
            post(.sample(sample))
        }
        // A worker alone in a job: what its own code touched since the last sample leaves its resident size (a
        // scheduler's sum of resident sizes would count it as the tool's), cheap to fault in again.
        if options.releaseCodePages { _ = clowdr_release_file_pages() }
    }

    // MARK: - After the exit

    /// Reaps the command (or reads the report of the server that reaped it), with the kernel's totals for it and
    /// everything it reaped. A stop that reached the command before this process noticed it (a scheduler's scancel
    /// signals every process of the job at once): killed by a signal with a cancellation on its way is a
    /// cancellation. A stopped attempt leaves nothing behind, nor does one whose server was killed before it
    /// reported (`shimLost`).
    func reap() {
        if reportPipe >= 0 {
            shim = Shim.readReport(reportPipe)
            reportPipe = -1
            status = shim?.waitStatus ?? SIGKILL
        } else {
            while wait4(pid, &status, 0, &rusage) < 0 && errno == EINTR {}
        }
        if cancelledFor == nil, (status & 0x7f) != 0 || ((status >> 8) & 0xff) > 128 {
            for _ in 0..<20 where cancel.cancelledBecause == nil { usleep(10_000) }
            cancelledFor = cancel.cancelledBecause
        }
        if executor.supervisor != nil && shim == nil && cancelledFor == nil { shimLost = true }
        if cancelledFor != nil || shimLost { kill(-pid, SIGKILL) }
        wall = elapsed()
    }

    /// The rest of the output: to the end of both streams, normally at once (every writer has exited). A process
    /// left behind that keeps a stream open gets 1 s, or until it is quiet for 0.2 s; then the stream is closed.
    func drainStreams() {
        let until = elapsed() + 1
        while out!.pipe >= 0 || err!.pipe >= 0, elapsed() < until {
            let ready = clowdr_wait_any(-1, out!.pipe, err!.pipe, 200)
            guard ready > 0 else { break }
            pump(ready)
        }
    }

    /// What the attempt used, as the kernel counted it.
    struct Usage {
        var exitCode: Int32?
        var signal: Int32?
        var cpuUser: Double
        var cpuSystem: Double
        var readBytes: Int64
        var writeBytes: Int64
    }

    /// The kernel's totals: exact even for a task shorter than one sample. From the shim's report when there is one;
    /// else from the top process's own rusage, whose ru_maxrss is not used (it holds clowdr's own peak, inherited
    /// across the exec).
    func usage() -> Usage {
        var u = Usage(
            exitCode: (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil, signal: (status & 0x7f) == 0 ? nil : status & 0x7f,
            cpuUser: Double(rusage.ru_utime.tv_sec) + Double(rusage.ru_utime.tv_usec) / 1e6,
            cpuSystem: Double(rusage.ru_stime.tv_sec) + Double(rusage.ru_stime.tv_usec) / 1e6, readBytes: 0, writeBytes: 0)
        var blocks = (read: Int64(rusage.ru_inblock), written: Int64(rusage.ru_oublock))
        if let shim {
            (u.exitCode, u.signal) = (shim.exitCode, shim.signal)
            (u.cpuUser, u.cpuSystem) = (shim.cpuUser, shim.cpuSystem)
            blocks = (shim.readBlocks, shim.writeBlocks)
            peakRSS = max(peakRSS, shim.maxRSS)
        }
        u.readBytes = max(last?.readBytes ?? 0, blocks.read * 512)
        u.writeBytes = max(last?.writeBytes ?? 0, blocks.written * 512)
        return u
    }

    /// Each output's resolved paths (a glob, as bosh does) with size and sha256, recorded where they end up; and
    /// why the attempt failed although its command succeeded (a required output missing, a stream not saved).
    func outputs() -> (files: [OutputFile], failure: String?) {
        var files: [OutputFile] = []
        // A stream that could not be saved fails the attempt: its record would be incomplete.
        var failure: String? = out!.failure ?? err!.failure
        for (id, path) in rendered.outputs {
            let absolute = PythonFormat.abspath(path, cwd: options.workingDirectory)
            let matches = AttemptExecutor.glob(absolute)
            let output = executor.descriptor.outputs.first { $0.id == id }
            guard let found = matches.first else {
                files.append(OutputFile(id: id, path: options.finalPlace(of: absolute)))
                if output?.optional == false && failure == nil { failure = "missing output \(id)" }
                continue
            }
            for m in (output?.list == true ? matches : [found]) {
                let attributes = try? FileManager.default.attributesOfItem(atPath: m)
                let isFile = (attributes?[.type] as? FileAttributeType) == .typeRegular
                let size = (attributes?[.size] as? NSNumber)?.int64Value
                files.append(OutputFile(id: id, path: options.finalPlace(of: m), size: size, sha256: isFile ? try? SHA256.hex(ofFile: m) : nil))
            }
        }
        return (files, failure)
    }

    /// Records the container image the attempt ran in, as its engine resolves it (`image_resolved`).
    func recordImage() {
        guard let c = containerImage else { return }
        post(.imageResolved(executor.images.resolve(engine: c.engine, image: c.image, file: c.file, files: executor.files)))
    }

    /// Records the files the attempt's processes used (`task_files`), or why they were not observed.
    func recordFiles() {
        defer {
            if records >= 0 { close(records) }
            records = -1
        }
        guard options.traceFiles else { return }
        let payload: TaskFiles
        if executor.supervisor == nil {
            payload = TaskFiles(traced: false, reason: "clowdr-shim was not found: attempts run without it, and unobserved")
        } else if let errno = shim?.untraced {
            payload = TaskFiles(traced: false, reason: FileTracing.reason(errno: errno))
        } else if shim?.traced == true, records >= 0 {
            pullRecords()
            payload = executor.files.taskFiles(
                traced, calls: shim?.calls.map { Int($0) },
                declared: DeclaredPlaces(cwd: options.workingDirectory, descriptor: executor.descriptor, rendered: rendered), container: containerView
            )
        } else {
            payload = TaskFiles(traced: false, reason: "the server's records could not be written")
        }
        if let reason = payload.reason, !payload.traced, executor.files.firstUntraced() {
            FileHandle.standardError.write(
                Data(
                    "clowdr: warning: the files attempts use are not observed here: \(reason); each attempt's record says so (--trace-files off turns tracing off)\n"
                        .utf8))
        }
        post(.taskFiles(payload))
    }

    /// Reads the whole records the server added since the last look, and has their inputs hashed meanwhile (while
    /// the attempt runs: a file is hashed as it was first used, and the attempt's end does not wait for it).
    func pullRecords() {
        guard records >= 0 else { return }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(records, $0.baseAddress, $0.count, recordsRead + off_t(bytes.count)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += buffer[0..<n]
        }
        guard let end = bytes.lastIndex(of: UInt8(ascii: "\n")) else { return }  // a record is one write: whole
        recordsRead += off_t(end + 1)
        let new = TraceRecord.parse(Array(bytes[...end]))
        executor.files.hashSoon(new)
        traced += new
    }

    /// Records how the attempt ended (cancelled first, when it was) and returns its state.
    func record(_ u: Usage, outputs: (files: [OutputFile], failure: String?)) -> TaskState {
        if let cancelledFor { post(.taskCancelled(TaskCancelled(reason: cancelledFor, signal: killed ? SIGKILL : SIGTERM))) }
        let exited = TaskExited(
            exitCode: u.exitCode, signal: u.signal, wallTime: wall, cpuUser: u.cpuUser, cpuSystem: u.cpuSystem, peakRSS: peakRSS,
            readBytes: u.readBytes, writeBytes: u.writeBytes, outputs: outputs.files,
            failureReason: u.exitCode == 0 && u.signal == nil ? outputs.failure : nil)
        post(.taskExited(exited))
        if cancelledFor != nil { return .cancelled }
        return exited.succeeded ? .succeeded : .failed
    }
}
