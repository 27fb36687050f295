/// Backends: where attempts run (the local machine, Slurm, AWS Batch). Each implements one small protocol;
/// none knows about the others, and the runner knows none of them.
public enum BackendKind: String, Sendable, CaseIterable {
    case local
    case slurm
    case awsbatch
}
