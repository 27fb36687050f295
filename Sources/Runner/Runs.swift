public import Boutiques
public import EventLog
import Foundation
public import JSON
import Subprocess

/// What `clowdr run` was asked to do.
public struct RunRequest: Sendable {
    public var descriptorPath: String
    public var invocationPath: String
    public var provdir: String
    public var sweeps: [String] = []
    public var bids = false
    /// Run the first task only.
    public var dev = false
    /// Plan and record, launch nothing.
    public var setupOnly = false
    /// Also write each task's invocation as `tasks/<task>.json` (the original Clowdr's layout).
    public var invocationFiles = false
    public var name: String?
    public var options: RunOptions
    /// The options as given, recorded in `experiment_created`.
    public var recordedOptions: [String: String] = [:]
    /// Told each planning warning (a folder passed over, a participants.tsv that disagrees), before anything is
    /// written.
    public var warn: @Sendable (String) -> Void = { _ in }
    /// The dataset a remote location names (`s3://bucket/ds`), listed; nil for a local path (`Planner`).
    public var remoteDataset: @Sendable (String) throws -> (any DatasetTree)? = { _ in nil }

    public init(descriptorPath: String, invocationPath: String, provdir: String, options: RunOptions) {
        self.descriptorPath = descriptorPath
        self.invocationPath = invocationPath
        self.provdir = provdir
        self.options = options
    }
}

/// The outcome of a run or a rerun.
public struct RunSummary: Sendable {
    public var layout: ExperimentLayout
    /// How the latest attempt this run launched of each task ended, by task.
    public var ended: [String: AttemptState]
    /// Tasks planned (run) and attempts launched (run and rerun).
    public var planned: Int
    public var launched: Int
    /// For a rerun, what selected its tasks.
    public var rerunMode: RerunMode?
    /// Submitted to a scheduler and not followed (`--detach`): how many attempts.
    public var detached = 0
    /// Detached, the attempts the scheduler would not take yet (its per-user submit limit): not submitted.
    public var notSubmitted = 0
    /// For a rerun on a scheduler, what each task's new attempt asked of it (resources), by task.
    public var asked: [String: [String: String]] = [:]
    /// For a rerun, the tasks left out because their scheduler still holds their latest attempt (`clowdr watch`
    /// follows them).
    public var held = 0

    public init(layout: ExperimentLayout, ended: [String: AttemptState], planned: Int, launched: Int, rerunMode: RerunMode? = nil) {
        self.layout = layout
        self.ended = ended
        self.planned = planned
        self.launched = launched
        self.rerunMode = rerunMode
    }
    /// True when every launched attempt started and succeeded.
    public var allSucceeded: Bool { ended.values.allSatisfy { $0 == .succeeded } && ended.count >= launched }
}

/// Planning experiments: plan and create, or select a rerun replayed from the log (`BackendRuns` runs them).
public enum Runs {
    /// Validates the descriptor and plans every task; nothing is written. Throws `BoutiquesError` or `PlanError`.
    public static func plan(_ r: RunRequest) throws -> (Descriptor, [PlannedTask]) {
        let d = try DescriptorValidator.load(r.descriptorPath)
        for w in DescriptorValidator.warnings(d, file: r.descriptorPath) { r.warn(w) }
        var planner = Planner(descriptor: d, workingDirectory: r.options.workingDirectory)
        planner.sweeps = r.sweeps
        planner.bids = r.bids
        planner.remoteDataset = r.remoteDataset
        let plan = try planner.plan(r.invocationPath)
        for w in plan.warnings { r.warn(w) }
        var tasks = plan.tasks
        if tasks.isEmpty { throw PlanError("nothing to run: the invocations gave no task", code: "plan.no_task") }
        if r.dev { tasks = Array(tasks.prefix(1)) }
        return (d, tasks)
    }

    /// An experiment planned and recorded (its tasks planned, nothing submitted): what a program that drives a
    /// backend itself starts from.
    public struct Recorded {
        public var descriptor: Descriptor
        public var tasks: [PlannedTask]
        public var layout: ExperimentLayout
        public var log: EventLog
    }

    /// Plans a run request and records its experiment under `r.provdir`, as run on `backend` (its name), with
    /// `r.recordedOptions`; nothing is submitted and no invocation file is written.
    public static func record(_ r: RunRequest, backend: String, factory: EventFactory = EventFactory()) throws -> Recorded {
        let (d, tasks) = try plan(r)
        let (layout, log) = try ExperimentSetup.create(
            provdir: r.provdir, descriptorPath: r.descriptorPath, descriptor: d, tasks: tasks,
            invocationSources: try Planner.invocationSources(r.invocationPath), name: r.name, options: r.recordedOptions, factory: factory,
            writeInvocationFiles: false, backend: backend)
        return Recorded(descriptor: d, tasks: tasks, layout: layout, log: log)
    }

    /// What a rerun runs: the tasks a mode selects, each as its next attempt, with its invocation from its
    /// `task_planned` event (the record; its file may never have been written, if the run was stopped early),
    /// rendered again for this working directory. Refused while another live controller drives the experiment.
    public struct RerunPlan {
        public var log: EventLog
        public var state: ExperimentState
        public var descriptor: Descriptor
        public var selected: [String]
        public var attempts: [AttemptPlan]
    }

    /// Selects and prepares a rerun: writes the missing invocation files and records `rerun_requested` when
    /// anything is selected (nothing is recorded otherwise).
    ///
    /// `held`: the native ids of attempts a scheduler still holds (queued or running); their tasks are not
    /// incomplete, whatever became of the controller that submitted them. `check` sees the selected tasks'
    /// invocations before anything is written, and may refuse them.
    public static func prepareRerun(
        _ layout: ExperimentLayout, mode: RerunMode, dev: Bool, options: RunOptions, overrides: [String: String], factory: EventFactory,
        held: Set<String> = [], check: (Descriptor, [(task: String, invocation: JSONObject)]) throws -> Void = { _, _ in }
    ) throws -> RerunPlan {
        let log = try EventLog(path: layout.log, mode: .readWrite)
        // What the controllers and workers recorded in segments since the last look.
        _ = try log.ingestNewSegments(in: layout.segments)
        let state = try log.replay()
        // Only one controller drives an experiment at a time.
        if let c = latestController(state), c.pid != getpid() || c.host != HostInfo.hostname, HostInfo.isAlive(c),
            state.tasks.values.contains(where: { !$0.state.isTerminal && $0.state != .planned })
        {
            throw PlanError(
                "experiment \(layout.id) is being run by pid \(c.pid) on \(c.host); wait for it to end, or stop it, before a rerun",
                code: "run.controller_alive", usage: false)
        }
        var selected = state.select(mode) { t in t.latest?.nativeID.map(held.contains) ?? false }
        if dev { selected = Array(selected.prefix(1)) }
        let d = try DescriptorValidator.load(layout.descriptor)
        var plan = RerunPlan(log: log, state: state, descriptor: d, selected: selected, attempts: [])
        guard !selected.isEmpty else { return plan }
        let renderer = Renderer(d, workingDirectory: options.workingDirectory)
        var invocations: [(task: String, invocation: JSONObject)] = []
        for task in selected {
            guard let seq = state.tasks[task]?.plannedSeq, let planned = try log.events(after: seq - 1, limit: 1).first,
                case .taskPlanned(let p) = try planned.decoded().body, case .object(let inv) = p.invocation
            else {
                throw PlanError(
                    "\(layout.log): task \(task) has no task_planned event with its invocation; it cannot be rerun", code: "run.task_not_planned")
            }
            invocations.append((task, inv))
            plan.attempts.append(
                AttemptPlan(
                    task: task, attempt: state.tasks[task]?.nextAttempt ?? 1,
                    rendered: try renderer.render(.object(inv), file: layout.invocation(task))))
        }
        try check(d, invocations)
        // The original Clowdr's layout, when the experiment has it (asked for, or made before clowdr wrote none).
        if state.experiment?.options[.invocationFiles] != "false" { try InvocationFiles.write(invocations, in: layout) }
        try log.append([
            factory.make(.rerunRequested(RerunRequested(mode: mode, tasks: selected, overrides: overrides, controller: HostInfo.controller())))
        ])
        return plan
    }

    /// The controller of the latest run or rerun.
    public static func latestController(_ state: ExperimentState) -> ControllerInfo? {
        state.reruns.last?.request.controller ?? state.experiment?.controller
    }

    /// Whether a task that has no final word is still being worked on (its controller is alive).
    public static func isAlive(_ state: ExperimentState) -> (TaskRecord) -> Bool {
        let alive = controllerAlive(state)
        return { _ in alive }
    }

    /// Whether the process that last ran or followed the experiment is still alive.
    public static func controllerAlive(_ state: ExperimentState) -> Bool {
        latestController(state).map(HostInfo.isAlive) ?? false
    }
}

/// Choosing the container engine for a descriptor's image.
public enum ContainerChoice {
    /// The engine to use: the one asked for, else the first of docker, podman (docker images) or singularity,
    /// apptainer (singularity images) found on the PATH. nil for a descriptor without an image.
    public static func options(for d: Descriptor, runtime: ContainerEngine?, volumes: [String], mapUser: Bool, imagePath: String?) throws
        -> ContainerOptions?
    {
        guard let c = d.container, c.image != nil else { return nil }
        let candidates: [ContainerEngine] = c.type == "singularity" ? [.singularity, .apptainer] : [.docker, .podman]
        guard let engine = runtime ?? candidates.first(where: { Subprocess.onPath($0.rawValue) != nil }) else {
            throw PlanError(
                "the descriptor runs in a \(c.type) image, but none of \(candidates.map(\.rawValue).joined(separator: ", ")) is on the PATH; install one or give --container-runtime",
                code: "run.no_container_engine")
        }
        var o = ContainerOptions(engine: engine)
        o.volumes = volumes
        o.mapUser = mapUser
        o.imagePath = imagePath
        o.forced = runtime != nil
        return o
    }
}
