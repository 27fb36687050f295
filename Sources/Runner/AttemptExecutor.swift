public import Boutiques
import CClowdrSystem
import Digest
public import EventLog
import Foundation

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
    /// Whether every attempt this executor runs is run for the first time (a local pool's, numbered by its log), so
    /// no stream file of an earlier run of it can be there; a worker's may be run again by its scheduler.
    public var attemptsAreNew = false
    public let factory: EventFactory
    let reader = ProcessTreeReader()
    let renderer: Renderer
    /// clowdr's own environment, which every attempt inherits; and the same as C strings, built once, for the
    /// attempts that add nothing to it.
    let baseEnvironment: [String: String]
    let baseEnvp: CStrings
    /// The clowdr-shim server that starts the attempts (nil without clowdr-shim: they start directly, and their
    /// peak comes from samples alone). Copies of the executor share it; a worker gives all its executors one.
    var supervisor: Supervisor? = Shim.path.map(Supervisor.init)
    /// The hashes and shared sets of the files its attempts used (copies of the executor share it).
    var files = FileBook()
    /// The container images its attempts ran in, resolved once each (copies share it).
    var images = ImageDigests()

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

    /// Runs the attempt to its end and returns the state it ended in: the steps of `RunningAttempt`, in order.
    public func run(task: String, attempt: Int, rendered: RenderedInvocation, cancel: CancellationFlag) -> TaskState {
        let a = RunningAttempt(executor: self, task: task, attempt: attempt, rendered: rendered, cancel: cancel)
        defer { a.closeStreams() }
        do {
            try a.openStreams()
            try a.writeConfigFiles()
            let (command, environment) = try a.commandAndEnvironment()
            try a.start(command, environment)
        } catch {
            return a.launchFailed(error)
        }
        a.superviseAndSample()
        a.reap()
        a.drainStreams()
        // No final word of its own: the attempt ends as one whose worker vanished, by its samples (the local pool's
        // word, or the scheduler's accounting on a cluster).
        if a.shimLost { return .lost }
        let usage = a.usage()
        let outputs = a.outputs()
        a.recordImage()
        a.recordFiles()
        return a.record(usage, outputs: outputs)
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
