import Boutiques
public import ClowdrErrors
public import EventLog
import Foundation
public import JSON
public import Runner

/// Where attempts run: each backend (this machine's pool, Slurm, AWS Batch) implements this one small protocol,
/// and `Controller` drives any of them the same way. None knows about the others.
///
/// The division of work: the controller records `task_submitted` once the backend has accepted an attempt, and
/// reconciles what the scheduler says with the log; the worker that runs an attempt (`clowdr task` on a node)
/// records `task_started`, samples and `task_exited` in a segment the controller ingests. The scheduler is asked
/// as little as possible: the workers' segments tell most of what happens.
public protocol Backend: Sendable {
    /// `local`, `slurm`, `awsbatch`: what `task_submitted` records.
    var name: String { get }

    /// Submits attempts, in as many parts (arrays, jobs) as the scheduler needs, and hands each part it accepted to
    /// `accepted` as soon as it has (the part's attempts, a range of `batch.attempts`, and their native ids in order),
    /// so that the controller records one part while the next is submitted. Throws for the first part the scheduler
    /// refused, or when `accepted` throws: the attempts after the last part handed over were not submitted. No part
    /// is submitted twice.
    func submit(_ batch: SubmissionBatch, accepted: (_ attempts: Range<Int>, _ ids: [String]) throws -> Void) throws

    /// The scheduler's view of the experiment's attempts it still holds, by native id (one call for the whole
    /// experiment). An id it no longer holds is absent.
    func queue() throws -> [String: QueueState]

    /// The scheduler's final word on attempts it no longer holds, by native id; an id it cannot say anything
    /// about yet (accounting lags) is absent, or answered with `settled` false (AWS Batch: a job it does not list,
    /// asked about again, then recorded as unknown). Nil when the scheduler keeps no accounting at all.
    func accounting(_ ids: [String]) throws -> [String: FinalState]?

    /// Cancels attempts by native id.
    func cancel(_ ids: [String]) throws

    /// Called once the controller has recorded the submission of `ids`. A backend that runs attempts in this
    /// process starts them only now, so that their events come after their `task_submitted`.
    func release(_ ids: [String])

    /// Waits until something may have changed (an attempt ended), or at most `seconds`.
    func waitForChange(upTo seconds: Double)

    /// The scheduler's word on an attempt when it keeps no accounting (`accounting` returned nil): e.g. what
    /// Slurm's step daemon wrote in the job's output. Nil when it has none.
    func finalWithoutAccounting(_ id: String) -> FinalState?

    /// How often the scheduler is asked (a local pool is free to ask; a cluster's controller is not).
    var pollPolicy: PollPolicy { get }

    /// Called when following ends: a backend that records events itself makes them durable.
    func finish() throws

    /// The scheduler as a person names it, in reasons: "Slurm", "the local pool".
    var schedulerName: String { get }

    /// Whether the workers record their events in segments that the controller ingests (false: straight into
    /// the log, from this process).
    var recordsThroughSegments: Bool { get }

    /// How many times a task whose attempt lost its host to the provider (a spot instance reclaimed: class
    /// `preempted`) is given a new attempt automatically, each a visible attempt of its own.
    var reclaimRetries: Int { get }

    /// Brings what the workers wrote somewhere else (AWS: their segments and output streams on S3) into the
    /// experiment's folder, before the segments are ingested. `force`: now, whatever was fetched lately.
    func gather(force: Bool) throws
}

extension Backend {
    public func release(_ ids: [String]) {}
    public func waitForChange(upTo seconds: Double) { Thread.sleep(forTimeInterval: seconds) }
    public func finalWithoutAccounting(_ id: String) -> FinalState? { nil }
    public var pollPolicy: PollPolicy { PollPolicy.fromEnvironment() }
    public func finish() throws {}
    public var schedulerName: String { name }
    public var recordsThroughSegments: Bool { true }
    public func gather(force: Bool) throws {}
    public var reclaimRetries: Int { 0 }
}

/// How the scheduler is asked: first soon after a submission, then less often while nothing changes, up to a
/// steady interval cluster admins accept; never more often than `costFactor` times the last call's duration.
public struct PollPolicy: Sendable {
    public var first = 2.0
    public var steady = 30.0
    public var growth = 1.5
    public var costFactor = 5.0
    /// How long an attempt gone from the queue may wait for its worker's segment before the scheduler's word is
    /// recorded (file systems shared over the network show files late).
    public var segmentGrace = 10.0
    /// How long an end whose accounting is not settled yet (`FinalState.settled`) is asked about again before it is
    /// recorded as it stands.
    public var accountingPatience = 120.0
    public init() {}

    /// The policy from `CLOWDR_POLL_SECONDS` (the steady interval), for tests and small clusters.
    public static func fromEnvironment() -> PollPolicy {
        var p = PollPolicy()
        if let s = ProcessInfo.processInfo.environment["CLOWDR_POLL_SECONDS"].flatMap(Double.init), s > 0 {
            p.steady = s
            p.first = min(p.first, s)
            p.segmentGrace = min(p.segmentGrace, 2 * s)
            p.accountingPatience = min(p.accountingPatience, 20 * s)
        }
        return p
    }
}

/// The places of execution `clowdr run --backend` knows.
public enum BackendKind: String, Sendable, CaseIterable {
    case local
    case slurm
    case awsbatch
}

/// What to submit: attempts of one experiment, with what each element of a job runs.
public struct SubmissionBatch: Sendable {
    public var layout: ExperimentLayout
    /// The attempts.
    public var attempts: [AttemptPlan]
    /// What each attempt's worker is told besides its task and attempt (experiment, workdir, sampling...).
    public var worker: TaskFile
    /// Tasks run one after another in one element (`--groupby`).
    public var groupBy: Int
    /// Resources and scheduler options (`--clusterargs time:4:00,mem:2048,...`), by key.
    public var resources: [String: String]
    /// At most this many elements of an array at once (0: no limit).
    public var throttle: Int

    public init(
        layout: ExperimentLayout, attempts: [AttemptPlan], worker: TaskFile, groupBy: Int, resources: [String: String], throttle: Int
    ) {
        self.layout = layout
        self.attempts = attempts
        self.worker = worker
        self.groupBy = max(1, groupBy)
        self.resources = resources
        self.throttle = throttle
    }

    /// The attempts split into jobs (arrays) of at most `maxElements` elements of `groupBy` attempts each: ranges of
    /// `attempts`, in order.
    public func jobs(ofAtMost maxElements: Int) -> [Range<Int>] {
        let perJob = max(1, maxElements) * groupBy
        return stride(from: 0, to: attempts.count, by: perJob).map { $0..<min($0 + perJob, attempts.count) }
    }

    /// The elements of a job: the attempts each one runs, one after another.
    public func elements(of job: Range<Int>) -> [[(task: String, attempt: Int)]] {
        elementPlans(of: job).map { $0.map { ($0.task, $0.attempt) } }
    }

    /// The elements of a job with each attempt's invocation (what a worker needs besides the experiment's folder).
    public func elementsWithInvocations(of job: Range<Int>) -> [[(task: String, attempt: Int, invocation: JSONObject)]] {
        elementPlans(of: job).map { $0.map { ($0.task, $0.attempt, $0.rendered.invocation) } }
    }

    func elementPlans(of job: Range<Int>) -> [ArraySlice<AttemptPlan>] {
        stride(from: job.lowerBound, to: job.upperBound, by: groupBy).map { attempts[$0..<min($0 + groupBy, job.upperBound)] }
    }

    /// The index of the element of `job` that runs attempt `attempt`.
    public func element(of attempt: Int, in job: Range<Int>) -> Int { (attempt - job.lowerBound) / groupBy }
}

/// An attempt the scheduler still holds.
public enum QueueState: Sendable, Equatable {
    /// Waiting, with the scheduler's reason (Slurm: Resources, Priority, ReqNodeNotAvail...).
    case pending(reason: String)
    /// Started (its worker will say more).
    case running
    /// Waiting for a reason that means it can never start as asked: cancel it and say why.
    case unschedulable(reason: String)
    /// Ending, or in a state that is not yet final.
    case other(String)
}

/// The scheduler's final word on an attempt.
public struct FinalState: Sendable, Equatable {
    /// As the scheduler says it (Slurm: COMPLETED, FAILED, OUT_OF_MEMORY, TIMEOUT, CANCELLED, NODE_FAIL, UNKNOWN...;
    /// AWS Batch: SUCCEEDED, or FAILED with Batch's reason).
    public var state: String
    public var failureClass: FailureClass
    public var exitCode: Int32?
    public var signal: Int32?
    public var peakRSS: Int64?
    public var wallTime: Double?
    public var cpuTime: Double?
    /// The memory and time it was given (for a person: "killed for exceeding its 50 MB memory request").
    public var requestedMemory: Int64?
    public var timeLimit: Double?
    /// When the attempt ended, as the scheduler says (Slurm: sacct's End, to the second; AWS Batch: stoppedAt).
    public var endedAt: Timestamp?
    /// False while the scheduler's accounting of this end is incomplete (sacct writes a job's row before its steps'
    /// usage): the controller asks again, and records it as it stands only after `PollPolicy.accountingPatience`.
    public var settled = true

    public init(
        state: String, failureClass: FailureClass, exitCode: Int32? = nil, signal: Int32? = nil, peakRSS: Int64? = nil, wallTime: Double? = nil,
        cpuTime: Double? = nil, requestedMemory: Int64? = nil, timeLimit: Double? = nil
    ) {
        self.state = state
        self.failureClass = failureClass
        self.exitCode = exitCode
        self.signal = signal
        self.peakRSS = peakRSS
        self.wallTime = wallTime
        self.cpuTime = cpuTime
        self.requestedMemory = requestedMemory
        self.timeLimit = timeLimit
    }

    /// True when the scheduler says the attempt ended well (its worker's own exit says the rest).
    public var completed: Bool { state == "COMPLETED" || state == "SUCCEEDED" }

    /// An attempt cancelled before it started.
    public static let notStarted = FinalState(state: "NOT_STARTED", failureClass: .cancelled)

    /// The state of an attempt that the scheduler no longer holds and that its accounting does not list, although
    /// it lists others of the same submission (Slurm keeps no record of some array elements cancelled before they
    /// started). Never success.
    public static let noRecord = "NO RECORD"

    /// The state of a local attempt whose attempt process (clowdr-shim's fork, the command's parent) was killed before
    /// the command ended: the command's processes were stopped, and the attempt is measured by its samples.
    public static let shimKilled = "SHIM_KILLED"
}

/// A scheduler or cloud API that failed after its retries (exit 3), or a request it refused as asked (`usage`, exit 2).
public typealias BackendError = CodedFailure
