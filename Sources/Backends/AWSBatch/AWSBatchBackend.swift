public import AWS
import Boutiques
import ClowdrErrors
import Digest
public import EventLog
import Foundation
import JSON
import Runner

/// What a run on AWS Batch needs besides the experiment: where AWS is, the S3 prefix the workers read and write,
/// the set-up (queue, job role), and the image the tasks run in.
public struct AWSBatchSettings: Sendable {
    public var configuration: AWSConfiguration
    /// `s3://bucket/prefix`: each experiment goes under `<prefix>/<experiment-id>/`.
    public var s3: S3Location
    public var record: CloudRecord
    /// The tool's image with clowdr added (`clowdr cloud image`), or any image where `clowdrPath` runs clowdr.
    public var image: String
    /// clowdr's path inside the image.
    public var clowdrPath = "/opt/clowdr/bin/clowdr"
    /// Host folders mounted into the job's container (`HOST:CONTAINER[:ro]`, from `--volume`).
    public var volumes: [String] = []
    /// Where the record of the set-up is (job definitions registered by runs are added to it, for teardown).
    public var recordPath: String
    /// How many times an attempt whose spot instance was reclaimed is run again (each a new attempt).
    public var spotRetries = 2
    /// Give the workers keys in their environment: only at an endpoint that is not AWS (moto, a test server), where
    /// no ECS hands containers their job role's keys. They get the job role's own temporary keys (the run assumes
    /// the role), never this process's: the same scoped policy holds inside the containers as on AWS.
    public var passesKeys: Bool { configuration.customEndpoint("batch") != nil }

    public init(configuration: AWSConfiguration, s3: S3Location, record: CloudRecord, image: String, recordPath: String) {
        self.configuration = configuration
        self.s3 = s3
        self.record = record
        self.image = image
        self.recordPath = recordPath
    }
}

/// Runs attempts as AWS Batch array jobs (one per up to 10,000 elements). What the workers need travels through S3
/// under the experiment's prefix, never in the job's overrides: the descriptor, the invocations of a submission's
/// tasks in one object, and the array's map, under content-addressed keys (`invocations/<sha256>`,
/// `arrays/<sha256>.map`: nothing depends on the job id Batch gives).
/// Each child runs `clowdr task --array s3://.../map --events s3://.../segments/` inside the image, uploads its
/// segment every few seconds and at exit, and its output streams and files at exit; the controller copies the
/// segments back (`gather`) and ingests them as it does Slurm's.
///
/// Native ids are Batch's: `<array-job-id>:<index>` for an array's child, the job id for a job of one element.
public final class AWSBatchBackend: Backend, @unchecked Sendable {
    public let name = "awsbatch"
    public var schedulerName: String { "AWS Batch" }
    public let layout: ExperimentLayout
    public let settings: AWSBatchSettings
    let batch: BatchClient
    let s3: S3Client
    /// The experiment's folder on S3.
    public var root: S3Location { settings.s3.appending(layout.id) }
    /// Largest array AWS Batch accepts.
    public static let maxArraySize = 10_000
    private let lock = NSLock()
    /// What was uploaded once for the experiment (its descriptor).
    private var uploaded = Set<String>()
    private var lastGather = Date.distantPast

    public init(layout: ExperimentLayout, settings: AWSBatchSettings) {
        self.layout = layout
        self.settings = settings
        batch = BatchClient(configuration: settings.configuration)
        s3 = S3Client(configuration: settings.configuration)
        var p = PollPolicy.fromEnvironment()
        p.segmentGrace = max(p.segmentGrace, 10)  // a segment crosses S3 before it is seen
        pollPolicy = p
    }

    /// Read once: `gather` consults it at every look.
    public let pollPolicy: PollPolicy

    // MARK: Submission

    public func submit(_ batch: SubmissionBatch, accepted: (Range<Int>, [String]) throws -> Void) throws {
        let invocations = try upload(batch)
        let definition = try JobDefinitions(settings: settings, client: self.batch).arn(for: batch.resources, volumes: settings.volumes)
        for attempts in batch.jobs(ofAtMost: Self.maxArraySize) {
            let elements = batch.elements(of: attempts)
            let job = try submitArray(elements, batch: batch, definition: definition, invocations: invocations)
            try accepted(attempts, attempts.map { elements.count == 1 ? job : "\(job):\(batch.element(of: $0, in: attempts))" })
        }
    }

    /// Uploads the descriptor (once) and the invocations of the batch's tasks as one object, under a
    /// content-addressed key (`invocations/<sha256>`): one request however many tasks. Returns where each task's
    /// invocation is in it.
    func upload(_ batch: SubmissionBatch) throws -> (bundle: S3Location, ranges: [String: ClosedRange<Int>]) {
        if !lock.withLock({ uploaded.contains("descriptor.json") }) {
            try put(file: layout.descriptor, at: root.appending("descriptor.json"))
            lock.withLock { _ = uploaded.insert("descriptor.json") }
        }
        var bundle = Data()
        var ranges: [String: ClosedRange<Int>] = [:]
        for plan in batch.attempts where ranges[plan.task] == nil {
            let data = Data(InvocationFiles.text(plan.rendered.invocation).utf8)
            ranges[plan.task] = bundle.count...(bundle.count + max(data.count, 1) - 1)
            bundle.append(data)
        }
        let location = root.appending("invocations/\(Hex.lowercase(SHA256.digest(bundle)))")
        try s3.put(bundle, bucket: location.bucket, key: location.key)
        return (location, ranges)
    }

    func put(file path: String, at l: S3Location) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw BackendError("cannot read \(path) to upload it", code: "aws.io") }
        try s3.put(data, bucket: l.bucket, key: l.key)
    }

    /// Submits one job whose element i runs `elements[i]`; returns Batch's job id.
    func submitArray(
        _ elements: [[(task: String, attempt: Int)]], batch: SubmissionBatch, definition: String,
        invocations: (bundle: S3Location, ranges: [String: ClosedRange<Int>])
    ) throws -> String {
        var template = batch.worker
        template.experiment = root.description
        template.insideImage = true
        template.volumes = []  // mounted by the job definition
        let map = BatchArrayMap.text(template: template, invocations: invocations, elements: elements)
        let key = root.appending("arrays/\(Hex.lowercase(SHA256.digest(Data(map.utf8)))).map")
        try s3.put(Data(map.utf8), bucket: key.bucket, key: key.key)
        var environment: [String: String] = [:]
        if settings.passesKeys {
            let keys = try jobRoleKeys()
            environment = [
                "AWS_ACCESS_KEY_ID": keys.accessKeyID, "AWS_SECRET_ACCESS_KEY": keys.secretAccessKey,
                "AWS_ENDPOINT_URL": settings.configuration.customEndpoint("s3") ?? "",
            ]
            if let token = keys.sessionToken { environment["AWS_SESSION_TOKEN"] = token }
        }
        return try self.batch.submitJob(
            name: "clowdr-\(layout.id)", queue: settings.record.jobQueue, definition: definition, arraySize: elements.count,
            parameters: ["map": key.description, "segments": root.appending("segments/").description], environment: environment,
            tags: ["clowdr:experiment": layout.id, "clowdr:setup": settings.record.name])
    }

    private var assumed: Credentials?

    /// The job role's temporary keys (assumed once per run, valid 12 hours), for containers at a custom endpoint.
    func jobRoleKeys() throws -> Credentials {
        if let keys = lock.withLock({ assumed }) { return keys }
        let keys = try STSClient(configuration: settings.configuration).assumeRole(
            settings.record.jobRole, session: "clowdr-\(layout.id)", seconds: 43_200)
        lock.withLock { assumed = keys }
        return keys
    }

    // MARK: Following

    /// The parent job of a native id (`P:i` → `P`).
    static func parent(_ id: String) -> String { String(id.split(separator: ":").first ?? Substring(id)) }

    public func queue() throws -> [String: QueueState] {
        // Every job of the experiment this controller follows is found from its parents: one DescribeJobs per 100
        // parents, then, for arrays not yet done, one ListJobs per active status (children, 1,000 a page).
        let followed = followedIDs()
        let children = Dictionary(grouping: followed.filter { $0.contains(":") }, by: Self.parent)
        let parents = Array(Set(followed.map(Self.parent))).sorted()
        var states: [String: QueueState] = [:]
        for job in try batch.describeJobs(parents) {
            guard let mine = children[job.id] else {
                if !job.isFinal { states[job.id] = Self.queueState(job) }  // a job of one element
                continue
            }
            // An array is done when its summary counts every child ended (moto leaves a failed array's parent
            // SUBMITTED); a summary not filled in yet is asked about child by child.
            let done = (job.statusSummary["SUCCEEDED"] ?? 0) + (job.statusSummary["FAILED"] ?? 0)
            if job.isFinal || done >= (job.arraySize ?? mine.count) { continue }
            // Children only move forward, and the summary may lag the listings: from the earliest status it counts
            // any child in, every later status is listed too (a child that moved on between the two calls would
            // otherwise be in none of them).
            let active = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"]
            let earliest = active.firstIndex { (job.statusSummary[$0] ?? 1) > 0 } ?? 0
            for status in active[earliest...] {
                for child in try batch.listChildren(of: job.id, status: status) {
                    states[child.id] = Self.queueState(child)
                }
            }
        }
        return states
    }

    static func queueState(_ job: BatchJob) -> QueueState {
        switch job.status {
        case "RUNNING": return .running
        case "RUNNABLE" where BatchAccounting.isStuck(job.statusReason): return .unschedulable(reason: job.statusReason)
        case "SUBMITTED", "PENDING", "RUNNABLE", "STARTING": return .pending(reason: job.statusReason.isEmpty ? job.status : job.statusReason)
        default: return .other(job.status)
        }
    }

    public func accounting(_ ids: [String]) throws -> [String: FinalState]? {
        var finals: [String: FinalState] = [:]
        let jobs = try batch.describeJobs(ids)
        for job in jobs where job.isFinal { finals[job.id] = BatchAccounting.final(job) }
        // Batch keeps ended jobs for days: one it does not know was lost (its service restarted, its queue deleted).
        // Asked again for a while first (a job just submitted may not be listed yet), then recorded as unknown.
        for id in Set(ids).subtracting(jobs.map(\.id)) {
            var lost = FinalState(state: "UNKNOWN: AWS Batch does not know this job", failureClass: .unknown)
            lost.settled = false
            finals[id] = lost
        }
        return finals
    }

    /// Terminates the jobs, each child by its own id (AWS would also stop an array's children through their parent;
    /// moto does not, and one call per child works on both).
    public func cancel(_ ids: [String]) throws {
        for id in Set(ids).sorted() {
            try batch.terminateJob(id, reason: "clowdr: cancelled")
        }
    }

    /// The ids the controller follows: told by `track` (submissions and adopted attempts).
    private var followed = Set<String>()
    func followedIDs() -> Set<String> { lock.withLock { followed } }

    public func release(_ ids: [String]) { lock.withLock { followed.formUnion(ids) } }

    /// Follows ids already submitted (`clowdr watch`).
    public func track(_ ids: [String]) { lock.withLock { followed.formUnion(ids) } }

    // MARK: What the workers wrote

    /// Copies the workers' segments from S3 into the experiment's `segments/` (only the bytes not yet here: a
    /// segment only grows), and, when forced, their output streams into `tasks/`.
    public func gather(force: Bool) throws {
        let due = lock.withLock {
            let due = force || Date().timeIntervalSince(lastGather) >= min(5, pollPolicy.first)
            if due { lastGather = Date() }
            return due
        }
        guard due else { return }
        try S3Mirror(s3: s3).pull(root.appending("segments/"), into: layout.segments)
        if force { try S3Mirror(s3: s3).pull(root.appending("streams/"), into: layout.tasks, wholeFiles: true) }
    }

    public var reclaimRetries: Int { settings.spotRetries }

    /// The output streams of the attempts that ended last.
    public func finish() throws { try gather(force: true) }

}
