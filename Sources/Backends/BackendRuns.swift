import AWS
import Boutiques
import ClowdrErrors
public import EventLog
import Foundation
import JSON
public import Runner

/// Runs, reruns and follows experiments on any backend: plans and records them (`Runs`), hands their attempts to
/// a `Backend` (the local pool, Slurm, AWS Batch) and follows them with a `Controller`.
public enum BackendRuns {
    /// Where and how attempts go.
    public struct Options: Sendable {
        /// local, slurm or awsbatch.
        public var backend: BackendKind
        /// Where AWS is, the S3 prefix, the set-up and the image (awsbatch only).
        public var aws: AWSBatchSettings?
        /// `--clusterargs`: time, mem, cpus, account, partition, qos, gres, or any sbatch option; `mem:auto` and
        /// `time:auto` are worked out per task from the record.
        public var resources: [String: String] = [:]
        public var groupBy = 1
        public var throttle = 0
        /// Return once submitted (`clowdr watch` follows later).
        public var detach = false
        /// The clowdr binary the nodes run (unused by the local pool).
        public var clowdr: String
        /// The first part of the jobs' name (`--jobname`, recorded in the experiment's options as `jobname`).
        public var jobName: String?

        public init(backend: BackendKind, clowdr: String = Installation.executable) {
            self.backend = backend
            self.clowdr = clowdr
        }
    }

    /// `key:value,key:value` (a value may hold colons: `time:4:00`) as a dictionary; a usage error names the item.
    /// `key:` (no value) is kept with an empty value: a rerun drops that key of what the task asked before.
    public static func parseResources(_ text: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in text.split(separator: ",") where !item.isEmpty {
            guard let colon = item.firstIndex(of: ":"), colon != item.startIndex else {
                throw BackendError(
                    "--clusterargs: '\(item)' is not KEY:VALUE (e.g. time:4:00,mem:2048,account:ABC; KEY: with no value removes what a rerun would keep)",
                    code: "usage.clusterargs", usage: true)
            }
            out[String(item[..<colon])] = String(item[item.index(after: colon)...])
        }
        return out
    }

    /// The backend the options name, for this experiment.
    static func backend(
        _ o: Options, layout: ExperimentLayout, log: EventLog, descriptor: @autoclosure @escaping () throws -> Descriptor, options: RunOptions,
        factory: EventFactory, cancel: CancellationFlag, maxArraySize: Prefetched<Int>? = nil
    ) throws -> any Backend {
        try o.backend.traits.make(
            BackendContext(
                layout: layout, log: log, descriptor: descriptor, options: options, factory: factory, cancel: cancel, given: o, limits: maxArraySize))
    }

    /// Asks the scheduler, before anything is written, whether it would take a submission with the resources given
    /// (those worked out per task, `auto`, and those a rerun removes, `KEY:`, aside): Slurm through
    /// `sbatch --test-only`, AWS Batch by the job definition's rules. A refusal is a usage error that says what it
    /// refused.
    static func checkSubmission(_ o: Options) throws {
        let given = o.resources.filter { !$0.value.isEmpty && $0.value != "auto" }
        try o.backend.traits.checkResources(given)
    }

    /// On AWS Batch, before anything is written: the S3 locations the tasks name, against what the job role may
    /// use, and the inputs they read, which must exist (`RunAccess`).
    static func checkAccess(_ o: Options, descriptor: Descriptor, invocations: [(task: String, invocation: JSONObject)]) throws {
        try o.backend.traits.checkAccess(o.aws, descriptor, invocations)
    }

    /// A submission refused after the experiment was recorded: a failure at run time (exit 3) that says the command
    /// which submits the rest once the cause is fixed.
    static func refusedAfterRecording(_ error: any Error, layout: ExperimentLayout, on o: Options) -> any Error {
        guard let coded = error as? any CodedError else { return error }
        let backend = o.backend == BackendKind.standard ? "" : " --backend \(o.backend.rawValue)"
        return CodedFailure(
            "\(coded.description)\nThe experiment \(layout.id) is recorded; what was not submitted is incomplete. Once the cause is fixed, submit it with: clowdr rerun incomplete \(layout.directory)\(backend) --clusterargs KEY:VALUE,... (KEY: with no value removes an option)",
            code: coded.errorCode, usage: false)
    }

    /// The experiment by its absolute path: nodes and Slurm's own files resolve nothing against our folder.
    static func absolute(_ layout: ExperimentLayout) -> ExperimentLayout {
        ExperimentLayout(directory: URL(fileURLWithPath: layout.directory).standardizedFileURL.path)
    }

    /// Plans and records the experiment, submits every task, and follows them (unless detached).
    public static func start(
        _ r: RunRequest, on o: Options, cancel: CancellationFlag, factory: EventFactory = EventFactory(),
        onCreated: (ExperimentLayout, Controller?) -> Void = { _, _ in }
    ) throws -> RunSummary {
        var r = r
        r.provdir = URL(fileURLWithPath: r.provdir).standardizedFileURL.path
        // Whether the experiment has the original layout: a rerun writes the files of the tasks it runs again then.
        r.recordedOptions[.invocationFiles] = String(r.invocationFiles)
        // The scheduler's limits (Slurm's MaxArraySize) are read while the experiment is planned.
        let maxArraySize = r.setupOnly ? nil : o.backend.traits.prefetchLimits?()
        let (d, tasks) = try Runs.plan(r)
        if !r.setupOnly {
            try checkSubmission(o)
            try checkAccess(o, descriptor: d, invocations: tasks.map { ($0.id, $0.invocation) })
        }
        // Invocation files only when asked for (workers get theirs in their array's map): with --setup, written (and
        // durable) before the experiment appears; for a local run, by a thread of their own while its tasks start.
        let local = !o.backend.traits.workersReadInvocationFiles
        let (layout, log) = try ExperimentSetup.create(
            provdir: r.provdir, descriptorPath: r.descriptorPath, descriptor: d, tasks: tasks,
            invocationSources: try Planner.invocationSources(r.invocationPath), name: r.name, options: r.recordedOptions, factory: factory,
            writeInvocationFiles: r.invocationFiles && (!local || r.setupOnly), backend: o.backend.rawValue)
        if r.setupOnly {
            onCreated(layout, nil)
            return RunSummary(layout: layout, ended: [:], planned: tasks.count, launched: 0)
        }
        let writer =
            local && r.invocationFiles ? InvocationFileWriter(tasks.map { ($0.id, $0.rendered.invocation) }, in: layout, cancel: cancel) : nil
        let summary: RunSummary
        do {
            let backend = try backend(
                o, layout: layout, log: log, descriptor: d, options: r.options, factory: factory, cancel: cancel, maxArraySize: maxArraySize)
            let controller = Controller(layout: layout, log: log, backend: backend, factory: factory)
            onCreated(layout, controller)
            let plans = tasks.map { AttemptPlan(task: $0.id, attempt: 1, rendered: $0.rendered) }
            summary = try submitAndFollow(plans, controller: controller, on: o, options: r.options, cancel: cancel, planned: tasks.count)
        } catch {
            try? writer?.wait()
            throw error
        }
        try writer?.wait()
        return summary
    }

    /// Reruns the tasks a mode selects, as new attempts with the resources given (`mem:auto`...).
    public static func rerun(
        _ layout: ExperimentLayout, mode: RerunMode, dev: Bool, on o: Options, options: RunOptions, overrides: [String: String],
        cancel: CancellationFlag, factory: EventFactory = EventFactory(), onStart: (Controller) -> Void = { _ in }
    ) throws -> RunSummary {
        let layout = absolute(layout)
        try checkSubmission(o)
        let held =
            mode == .incomplete && o.backend.traits.attemptsOutliveController
            ? try heldByScheduler(layout, on: o, options: options, cancel: cancel) : []
        let plan = try Runs.prepareRerun(layout, mode: mode, dev: dev, options: options, overrides: overrides, factory: factory, held: held) {
            try checkAccess(o, descriptor: $0, invocations: $1)
        }
        let stillHeld = plan.state.tasks.values.filter { t in t.latest.map { !$0.state.isTerminal && held.contains($0.nativeID ?? "") } ?? false }
        if plan.attempts.isEmpty {
            var s = RunSummary(layout: layout, ended: [:], planned: plan.state.tasks.count, launched: 0, rerunMode: mode)
            s.held = stillHeld.count
            return s
        }
        let backend = try backend(o, layout: layout, log: plan.log, descriptor: plan.descriptor, options: options, factory: factory, cancel: cancel)
        let controller = Controller(layout: layout, log: plan.log, backend: backend, factory: factory)
        onStart(controller)
        var summary = try submitAndFollow(
            plan.attempts, controller: controller, on: o, options: options, cancel: cancel, planned: plan.state.tasks.count, rerun: true)
        summary.rerunMode = mode
        summary.held = stillHeld.count
        return summary
    }

    /// The native ids of the experiment's unfinished attempts on `o`'s backend that its scheduler still holds
    /// (queued or running): a detached or dead controller makes none of them incomplete. One look at the queue.
    static func heldByScheduler(_ layout: ExperimentLayout, on o: Options, options: RunOptions, cancel: CancellationFlag) throws -> Set<String> {
        // Segments are not ingested here (prepareRerun does): an attempt whose exit is still in one is asked about
        // in vain, and then found ended.
        let log = try EventLog(path: layout.log, mode: .readWrite)
        let ids = try log.projectedTasks().values.compactMap { t in
            t.latest.flatMap { !$0.state.isTerminal && $0.backend == o.backend.rawValue ? $0.nativeID : nil }
        }
        guard !ids.isEmpty else { return [] }
        let backend = try backend(
            o, layout: layout, log: log, descriptor: try DescriptorValidator.load(layout.descriptor), options: options, factory: EventFactory(),
            cancel: cancel)
        backend.release(Array(Set(ids)))
        let held = Set(try backend.queue().keys)
        // What the workers of the attempts no longer held wrote (AWS Batch's segments are on S3): brought in now, so
        // that an attempt that ended after the controller died is found ended, not incomplete and run twice.
        try backend.gather(force: false)
        return held
    }

    /// Follows an experiment's unfinished attempts again, from any login (after a controller died or detached),
    /// on the backend its record names. A local experiment's attempts died with their controller: it is resumed
    /// with `clowdr rerun incomplete`.
    public static func watch(
        _ layout: ExperimentLayout, clowdr: String = Installation.executable, cancel: CancellationFlag,
        aws: ([String: String]) throws -> AWSBatchSettings? = { _ in nil }, onStart: (Controller) -> Void = { _ in }
    )
        throws -> RunSummary
    {
        let layout = absolute(layout)
        let log = try EventLog(path: layout.log, mode: .readWrite)
        // The submissions (a controller's segment) and what the workers recorded since the last look.
        _ = try log.ingestNewSegments(in: layout.segments)
        let experiment = try log.projectedState().experiment
        let recorded = experiment?.options ?? [:]
        let name = experiment?.backend ?? BackendKind.standard.rawValue
        guard let kind = BackendKind(rawValue: name), kind.traits.attemptsOutliveController else {
            throw BackendError(
                "experiment \(layout.id) ran on the \(name) backend: its attempts ran inside their controller, so there is nothing to follow; resume it with: clowdr rerun incomplete \(layout.directory)",
                code: "watch.local_experiment", usage: true)
        }
        var o = Options(backend: kind, clowdr: clowdr)
        if let name = recorded[.jobname], !name.isEmpty { o.jobName = name }
        if kind.traits.usesAWS { o.aws = try aws(recorded) }
        let backend = try backend(
            o, layout: layout, log: log, descriptor: try DescriptorValidator.load(layout.descriptor),
            options: RunOptions(jobs: 1, workingDirectory: "."),
            factory: EventFactory(), cancel: cancel)
        let controller = Controller(layout: layout, log: log, backend: backend)
        try controller.adoptUnfinished()
        onStart(controller)
        var results = try follow(controller, cancel: cancel)
        // How every task's latest attempt ended, those that ended before this watch began included.
        let tasks = try log.projectedTasks()
        for t in tasks.values {
            guard let a = t.latest, a.backend == name, a.state.isTerminal, a.state != .cancelled || a.startedAt != nil else { continue }
            results[AttemptKey(task: t.task, attempt: a.attempt)] = a.state
        }
        return summary(layout: layout, results: results, planned: tasks.count)
    }

    /// Follows the controller's attempts to their end, then makes the record durable and whole in the log file.
    static func follow(_ controller: Controller, cancel: CancellationFlag) throws -> [AttemptKey: AttemptState] {
        let results: [AttemptKey: AttemptState]
        do { results = try controller.follow(cancel: cancel) } catch {
            // Nothing more starts; what runs is stopped and recorded before the error is told.
            cancel.cancel("an error: \(error)")
            try? controller.backend.finish()
            try? controller.sealSubmissions()
            throw error
        }
        try controller.backend.finish()
        try controller.sealSubmissions()
        // The log file alone holds every event now (a copy of the folder is complete).
        try controller.log.checkpoint()
        return results
    }

    static func submitAndFollow(
        _ plans: [AttemptPlan], controller: Controller, on o: Options, options: RunOptions, cancel: CancellationFlag, planned: Int,
        rerun: Bool = false
    ) throws -> RunSummary {
        let asked = try resources(for: plans, on: o, log: controller.log, rerun: rerun)
        var how = Controller.Submission(
            groupBy: o.groupBy, throttle: o.throttle, workdir: options.workingDirectory, sampleInterval: options.sampleInterval)
        how.traceFiles = options.traceFiles
        if let c = options.container {
            how.containerRuntime = c.forced ? c.engine : nil
            how.volumes = c.volumes
        }
        do {
            try controller.submit(plans, resources: { asked[$0.task] ?? [:] }, how: how)
        } catch {
            try? controller.backend.finish()
            try? controller.sealSubmissions()
            throw refusedAfterRecording(error, layout: controller.layout, on: o)
        }
        if o.detach {
            try controller.sealSubmissions()
            try controller.log.checkpoint()
            var s = RunSummary(layout: controller.layout, ended: [:], planned: planned, launched: 0)
            s.notSubmitted = controller.notSubmitted
            s.detached = plans.count - s.notSubmitted
            s.asked = rerun ? asked : [:]
            return s
        }
        var s = summary(layout: controller.layout, results: try follow(controller, cancel: cancel), planned: planned)
        s.launched = plans.count
        s.asked = rerun ? asked : [:]
        return s
    }

    /// What each task's attempt asks of its scheduler: `--clusterargs`, over the task's last attempt's resources for
    /// a rerun, `auto` worked out from the record. The record is read only for a rerun or an `auto` value.
    static func resources(for plans: [AttemptPlan], on o: Options, log: EventLog, rerun: Bool) throws -> [String: [String: String]] {
        guard o.backend.traits.takesClusterFlags else { return [:] }
        let record = rerun || o.resources.values.contains("auto") ? try ResourceRecord(log: log) : nil
        var asked: [String: [String: String]] = [:]
        for p in plans {
            guard let record else {
                asked[p.task] = o.resources.filter { !$0.value.isEmpty }
                continue
            }
            asked[p.task] = rerun ? record.rerun(o.resources, task: p.task, backend: o.backend.rawValue) : record.resolve(o.resources, task: p.task)
        }
        return asked
    }

    /// `clowdr sync`: brings what the workers of an experiment wrote elsewhere (AWS: segments and output streams on
    /// S3) into its folder and ingests it. Idempotent: what is already here is neither fetched nor recorded again.
    public static func sync(_ layout: ExperimentLayout, aws: ([String: String]) throws -> AWSBatchSettings?) throws -> EventLog.IngestReport {
        let layout = absolute(layout)
        let log = try EventLog(path: layout.log, mode: .readWrite)
        let experiment = try log.projectedState().experiment
        let kind = experiment.flatMap { BackendKind(rawValue: $0.backend) } ?? BackendKind.standard
        guard kind.traits.usesAWS, let settings = try aws(experiment?.options ?? [:]) else {
            throw BackendError(
                "experiment \(layout.id) ran on the \(kind.rawValue) backend: its workers wrote into its folder, there is nothing to pull",
                code: "sync.not_remote", usage: true)
        }
        var o = Options(backend: kind)
        o.aws = settings
        let cancel = CancellationFlag()
        try backend(
            o, layout: layout, log: log, descriptor: try DescriptorValidator.load(layout.descriptor),
            options: RunOptions(jobs: 1, workingDirectory: "."),
            factory: EventFactory(), cancel: cancel
        ).gather(force: true)
        let report = try log.ingestNewSegments(in: layout.segments)
        try log.checkpoint()
        return report
    }

    /// The run's outcome: how each task's latest attempt of this run ended.
    static func summary(layout: ExperimentLayout, results: [AttemptKey: AttemptState], planned: Int) -> RunSummary {
        var latest: [String: AttemptKey] = [:]
        for key in results.keys where key.attempt > latest[key.task]?.attempt ?? 0 { latest[key.task] = key }
        let ended = latest.mapValues { results[$0]! }
        return RunSummary(layout: layout, ended: ended, planned: planned, launched: ended.count)
    }
}
