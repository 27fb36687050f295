import Boutiques
public import EventLog
import Foundation
public import Runner

/// Runs, reruns and follows experiments on a cluster or cloud backend: the same plan and record as a local run,
/// the attempts handed to a `Backend` and followed by a `Controller`.
public enum ClusterRuns {
    /// Where and how attempts go.
    public struct Options: Sendable {
        /// slurm (awsbatch to come).
        public var backend: BackendKind
        /// `--clusterargs`: time, mem, cpus, account, partition, qos, gres, or any sbatch option; `mem:auto` and
        /// `time:auto` are worked out per task from the record.
        public var resources: [String: String] = [:]
        public var groupBy = 1
        public var throttle = 0
        /// Return once submitted (`clowdr watch` follows later).
        public var detach = false
        /// The clowdr binary the nodes run.
        public var clowdr: String
        /// The first part of the jobs' name (`--jobname`, recorded in the experiment's options as `jobname`).
        public var jobName: String?

        public init(backend: BackendKind, clowdr: String) {
            self.backend = backend
            self.clowdr = clowdr
        }
    }

    /// `key:value,key:value` (a value may hold colons: `time:4:00`) as a dictionary; a usage error names the item.
    public static func parseResources(_ text: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in text.split(separator: ",") where !item.isEmpty {
            guard let colon = item.firstIndex(of: ":"), colon != item.startIndex, item.index(after: colon) != item.endIndex else {
                throw BackendError(
                    "--clusterargs: '\(item)' is not KEY:VALUE (e.g. time:4:00,mem:2048,account:ABC)", code: "usage.clusterargs", usage: true)
            }
            out[String(item[..<colon])] = String(item[item.index(after: colon)...])
        }
        return out
    }

    static func backend(_ o: Options, layout: ExperimentLayout) -> any Backend {
        SlurmBackend(layout: layout, clowdr: o.clowdr, jobNamePrefix: o.jobName ?? "clowdr")
    }

    /// The experiment by its absolute path: nodes and Slurm's own files resolve nothing against our folder.
    static func absolute(_ layout: ExperimentLayout) -> ExperimentLayout {
        ExperimentLayout(directory: URL(fileURLWithPath: layout.directory).standardizedFileURL.path)
    }

    /// Plans and records the experiment, submits every task, and follows them (unless detached).
    public static func start(
        _ r: RunRequest, cluster: Options, cancel: CancellationFlag, factory: EventFactory = EventFactory(),
        onCreated: (ExperimentLayout, Controller) -> Void = { _, _ in }
    ) throws -> RunSummary {
        var r = r
        r.provdir = URL(fileURLWithPath: r.provdir).standardizedFileURL.path
        let (d, tasks) = try Runs.plan(r)
        // The nodes read the invocation files: written (and durable) before anything is submitted.
        let (layout, log) = try ExperimentSetup.create(
            provdir: r.provdir, descriptorPath: r.descriptorPath, descriptor: d, tasks: tasks,
            invocationSources: try Planner.invocationFiles(r.invocationPath), name: r.name, options: r.recordedOptions, factory: factory,
            invocationFiles: true, backend: cluster.backend.rawValue)
        let controller = Controller(layout: layout, log: log, backend: backend(cluster, layout: layout), factory: factory)
        controller.policy = Controller.PollPolicy.fromEnvironment()
        onCreated(layout, controller)
        if r.setupOnly { return RunSummary(layout: layout, results: [:], planned: tasks.count, launched: 0) }
        let plans = tasks.map { AttemptPlan(task: $0.id, attempt: 1, rendered: $0.rendered) }
        return try submitAndFollow(plans, controller: controller, cluster: cluster, options: r.options, cancel: cancel, planned: tasks.count)
    }

    /// Reruns the tasks a mode selects on the backend, as new attempts with the resources given (`mem:auto`...).
    public static func rerun(
        _ layout: ExperimentLayout, mode: RerunMode, dev: Bool, cluster: Options, options: RunOptions, overrides: [String: String],
        cancel: CancellationFlag, factory: EventFactory = EventFactory(), onStart: (Controller) -> Void = { _ in }
    ) throws -> RunSummary {
        let layout = absolute(layout)
        let plan = try Runs.prepareRerun(layout, mode: mode, dev: dev, options: options, overrides: overrides, factory: factory)
        if plan.attempts.isEmpty { return RunSummary(layout: layout, results: [:], planned: plan.state.tasks.count, launched: 0, rerunMode: mode) }
        let (log, state, plans) = (plan.log, plan.state, plan.attempts)
        let controller = Controller(layout: layout, log: log, backend: backend(cluster, layout: layout), factory: factory)
        controller.policy = Controller.PollPolicy.fromEnvironment()
        onStart(controller)
        var summary = try submitAndFollow(
            plans, controller: controller, cluster: cluster, options: options, cancel: cancel, planned: state.tasks.count)
        summary.rerunMode = mode
        return summary
    }

    /// Follows an experiment's unfinished attempts again, from any login (after a controller died or detached).
    public static func watch(_ layout: ExperimentLayout, cluster: Options, cancel: CancellationFlag, onStart: (Controller) -> Void = { _ in })
        throws -> RunSummary
    {
        let layout = absolute(layout)
        let log = try EventLog(path: layout.log, mode: .readWrite)
        var cluster = cluster
        if cluster.jobName == nil, let recorded = try log.replay().experiment?.options["jobname"], !recorded.isEmpty { cluster.jobName = recorded }
        let controller = Controller(layout: layout, log: log, backend: backend(cluster, layout: layout))
        controller.policy = Controller.PollPolicy.fromEnvironment()
        try controller.adoptUnfinished()
        onStart(controller)
        let results = try controller.follow(cancel: cancel)
        try log.checkpoint()
        return summary(layout: layout, results: results, planned: try log.projectedTasks().count)
    }

    static func submitAndFollow(
        _ plans: [AttemptPlan], controller: Controller, cluster: Options, options: RunOptions, cancel: CancellationFlag, planned: Int
    ) throws -> RunSummary {
        // The record is read only when a resource is worked out from it (`mem:auto`, `time:auto`).
        let auto = cluster.resources.values.contains("auto") ? try ResourceRecord(log: controller.log) : nil
        var how = Controller.Submission(
            groupBy: cluster.groupBy, throttle: cluster.throttle, workdir: options.workingDirectory, sampleInterval: options.sampleInterval)
        if let c = options.container {
            how.containerRuntime = c.forced ? c.engine : nil
            how.volumes = c.volumes
        }
        try controller.submit(plans, resources: { auto?.resolve(cluster.resources, task: $0.task) ?? cluster.resources }, how: how)
        if cluster.detach {
            try controller.log.checkpoint()
            var s = RunSummary(layout: controller.layout, results: [:], planned: planned, launched: 0)
            s.detached = plans.count
            return s
        }
        let results = try controller.follow(cancel: cancel)
        try controller.log.checkpoint()
        var s = summary(layout: controller.layout, results: results, planned: planned)
        s.launched = plans.count
        return s
    }

    static func summary(layout: ExperimentLayout, results: [String: TaskStatus], planned: Int) -> RunSummary {
        var byTask: [String: TaskStatus] = [:]
        for (key, state) in results { byTask[String(key.split(separator: "/").first!)] = state }
        return RunSummary(layout: layout, results: byTask, planned: planned, launched: byTask.count)
    }
}
