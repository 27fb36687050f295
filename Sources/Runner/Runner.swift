/// Runner: plans tasks from a descriptor and invocations, and runs each attempt under a process-tree monitor.
///
/// The planner, executor and monitor arrive with the local-runs work; this target already fixes where they live
/// and that they depend only on the event log (never on a backend).
public enum RunnerInfo {
    /// The version of clowdr recorded in every experiment.
    public static let clowdrVersion = "0.1.0-dev"
}
