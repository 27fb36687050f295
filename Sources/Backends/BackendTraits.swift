import Boutiques
import EventLog
import Foundation
import JSON
import Runner

/// What clowdr needs to know of a backend before one exists: how its attempts live, which flags it takes, what it
/// checks before anything is recorded, and how one is made. Each backend declares its own in its folder
/// (`LocalBackend.traits`, `SlurmBackend.traits`, `AWSBatchBackend.traits`); `BackendKind.traits` is where they are
/// registered, the one place that names every backend. Nothing outside a backend's folder asks which one it is.
public struct BackendTraits: Sendable {
    /// Its attempts run on their own (a scheduler holds them) and outlive the controller that submitted them: they
    /// can be followed from another login (`watch`), and a rerun of incomplete tasks asks the scheduler first which
    /// of them it still holds. False for attempts that run inside their controller and die with it.
    public var attemptsOutliveController: Bool
    /// It takes the flags of a scheduler's queue: `--clusterargs`, `--throttle`, `--detach`, `--jobname`.
    public var takesClusterFlags: Bool
    /// It runs on AWS: it needs the AWS settings (`--s3`, `--image`, found again from the record for a rerun or a
    /// watch) and takes those flags.
    public var usesAWS: Bool
    /// Its attempts run inside the descriptor's image where they are sent (no container engine is looked for here,
    /// and the container flags are the provider's to apply).
    public var runsInsideImage: Bool
    /// Its workers read each task's invocation file from the experiment's folder (when asked for, those are written
    /// and made durable before the experiment appears); otherwise they are written while the first tasks start.
    var workersReadInvocationFiles: Bool
    /// Starts reading what the scheduler's limits are while the experiment is planned (nil: nothing to read).
    var prefetchLimits: (@Sendable () -> Prefetched<Int>)?
    /// Whether the scheduler would take a submission with these resources (before anything is recorded); a refusal
    /// is a usage error that says what it refused.
    var checkResources: @Sendable ([String: String]) throws -> Void
    /// Whether the tasks may use what they name (AWS: the S3 locations, against what the job role may use; the
    /// inputs they read must exist), before anything is recorded.
    var checkAccess:
        @Sendable (_ settings: AWSBatchSettings?, _ descriptor: Descriptor, _ invocations: [(task: String, invocation: JSONObject)]) throws -> Void
    /// Makes one for an experiment.
    var make: @Sendable (BackendContext) throws -> any Backend

    init(
        attemptsOutliveController: Bool, takesClusterFlags: Bool, usesAWS: Bool = false, runsInsideImage: Bool = false,
        workersReadInvocationFiles: Bool, prefetchLimits: (@Sendable () -> Prefetched<Int>)? = nil,
        checkResources: @escaping @Sendable ([String: String]) throws -> Void = { _ in },
        checkAccess: @escaping @Sendable (AWSBatchSettings?, Descriptor, [(task: String, invocation: JSONObject)]) throws -> Void = { _, _, _ in },
        make: @escaping @Sendable (BackendContext) throws -> any Backend
    ) {
        self.attemptsOutliveController = attemptsOutliveController
        self.takesClusterFlags = takesClusterFlags
        self.usesAWS = usesAWS
        self.runsInsideImage = runsInsideImage
        self.workersReadInvocationFiles = workersReadInvocationFiles
        self.prefetchLimits = prefetchLimits
        self.checkResources = checkResources
        self.checkAccess = checkAccess
        self.make = make
    }
}

/// What a backend is made with, for one experiment.
struct BackendContext {
    var layout: ExperimentLayout
    var log: EventLog
    /// The experiment's descriptor, read when the backend needs it (the local pool runs it here).
    var descriptor: () throws -> Descriptor
    var options: RunOptions
    var factory: EventFactory
    var cancel: CancellationFlag
    /// Where and how attempts go: the nodes' clowdr, the jobs' name, the AWS settings.
    var given: BackendRuns.Options
    /// The scheduler's limits, when they were read while the experiment was planned.
    var limits: Prefetched<Int>?
}

extension BackendKind {
    /// The backend's traits: the one registration of every backend.
    public var traits: BackendTraits {
        switch self {
        case .local: LocalBackend.traits
        case .slurm: SlurmBackend.traits
        case .awsbatch: AWSBatchBackend.traits
        }
    }

    /// Where tasks run when nothing says otherwise: this machine.
    public static let standard = BackendKind.local

    /// The backends that take `traits`' flag, as a person lists them ("slurm or awsbatch").
    public static func listed(where has: (BackendTraits) -> Bool) -> String {
        let names = allCases.filter { has($0.traits) }.map(\.rawValue)
        return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}
