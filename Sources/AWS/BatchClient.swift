import ClowdrErrors
public import JSON

/// What AWS Batch says of one job (`DescribeJobs`), as far as clowdr reads it.
public struct BatchJob: Sendable, Equatable {
    public var id: String
    public var name: String
    /// SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED.
    public var status: String
    public var statusReason: String
    /// The last attempt's container: its exit code and the reason Batch gives (`OutOfMemoryError: ...`,
    /// `CannotPullContainerError: ...`, `Host EC2 (instance i-...) terminated.`).
    public var exitCode: Int32?
    public var containerReason: String
    /// Milliseconds since 1970, when Batch says.
    public var startedAt: Int64?
    public var stoppedAt: Int64?
    /// For an array's parent: its size and how many children are in each status.
    public var arraySize: Int?
    public var statusSummary: [String: Int]
    /// The memory given to the container (MiB), from the job's resource requirements.
    public var memoryMiB: Int64?

    /// Whether Batch holds the job no longer (it ended).
    public var isFinal: Bool { status == "SUCCEEDED" || status == "FAILED" }

    /// A job from DescribeJobs' `jobs` or ListJobs' `jobSummaryList`.
    public init(_ o: JSONValue) {
        id = o["jobId"]?.stringValue ?? ""
        name = o["jobName"]?.stringValue ?? ""
        status = o["status"]?.stringValue ?? ""
        statusReason = o["statusReason"]?.stringValue ?? ""
        let container = o["container"]
        let lastAttempt = o["attempts"]?.arrayValue?.last?["container"]
        exitCode = (container?["exitCode"]?.int64Value ?? lastAttempt?["exitCode"]?.int64Value).map { Int32(truncatingIfNeeded: $0) }
        containerReason = container?["reason"]?.stringValue ?? lastAttempt?["reason"]?.stringValue ?? ""
        startedAt = o["startedAt"]?.int64Value
        stoppedAt = o["stoppedAt"]?.int64Value
        arraySize = o["arrayProperties"]?["size"]?.int64Value.map { Int($0) }
        var summary: [String: Int] = [:]
        for (k, v) in o["arrayProperties"]?["statusSummary"]?.objectValue ?? JSONObject() { summary[k] = Int(v.int64Value ?? 0) }
        statusSummary = summary
        let requirements = container?["resourceRequirements"]?.arrayValue ?? []
        memoryMiB = requirements.first { $0["type"]?.stringValue == "MEMORY" }?["value"]?.stringValue.flatMap { Int64($0) }
    }
}

/// AWS Batch's API (REST-JSON): jobs, job definitions, job queues and compute environments.
public struct BatchClient: Sendable {
    public var http: AWSHTTP
    /// DescribeJobs takes at most this many ids a call (AWS's limit).
    public static let describeLimit = 100

    public init(configuration: AWSConfiguration) { http = AWSHTTP(configuration: configuration) }

    /// One call: `operation` as AWS names it (`SubmitJob`), about `resource`.
    public func call(_ operation: String, _ body: JSONValue, resource: String) throws -> JSONValue {
        try http.restJSON(service: "batch", path: "/v1/" + operation.lowercased(), body, operation: operation, resource: resource)
    }

    // MARK: Jobs

    /// Submits a job (an array job when `arraySize` ≥ 2); returns its id. Details travel in `parameters` (short
    /// strings the job definition's command refers to as `Ref::name`), never in container overrides.
    public func submitJob(
        name: String, queue: String, definition: String, arraySize: Int, parameters: [String: String], environment: [String: String] = [:],
        tags: [String: String], attempts: Int = 1
    ) throws -> String {
        var body: JSONObject = [
            "jobName": .string(name), "jobQueue": .string(queue), "jobDefinition": .string(definition),
            "parameters": .object(JSONObject(parameters.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            "tags": Self.stringMap(tags), "propagateTags": true, "retryStrategy": ["attempts": .number(JSONNumber(max(1, attempts)))],
        ]
        if arraySize >= 2 { body["arrayProperties"] = ["size": .number(JSONNumber(arraySize))] }
        if !environment.isEmpty {
            body["containerOverrides"] = [
                "environment": .array(environment.sorted { $0.key < $1.key }.map { ["name": .string($0.key), "value": .string($0.value)] })
            ]
        }
        let answer = try call("SubmitJob", .object(body), resource: "job \(name) in queue \(queue)")
        guard let id = answer["jobId"]?.stringValue, !id.isEmpty else {
            throw AWSError("SubmitJob \(name): the answer has no jobId", code: "aws.bad_answer")
        }
        return id
    }

    /// The jobs of these ids, asked 100 a call; an id Batch no longer knows is absent.
    public func describeJobs(_ ids: [String]) throws -> [BatchJob] {
        var jobs: [BatchJob] = []
        for start in stride(from: 0, to: ids.count, by: Self.describeLimit) {
            let part = Array(ids[start..<min(start + Self.describeLimit, ids.count)])
            let answer = try call("DescribeJobs", ["jobs": .array(part.map { .string($0) })], resource: "\(part.count) jobs")
            jobs += (answer["jobs"]?.arrayValue ?? []).map(BatchJob.init)
        }
        return jobs
    }

    /// An array's children in one status (their summaries: id, status, status reason), every page.
    public func listChildren(of arrayJob: String, status: String) throws -> [BatchJob] {
        var jobs: [BatchJob] = []
        var token: String?
        repeat {
            var body: JSONObject = ["arrayJobId": .string(arrayJob), "jobStatus": .string(status), "maxResults": 1000]
            if let token { body["nextToken"] = .string(token) }
            let answer = try call("ListJobs", .object(body), resource: "array job \(arrayJob)")
            jobs += (answer["jobSummaryList"]?.arrayValue ?? []).map(BatchJob.init)
            token = answer["nextToken"]?.stringValue
        } while token != nil && token != ""
        return jobs
    }

    /// Stops a job whatever its status (queued jobs are cancelled, running ones killed).
    public func terminateJob(_ id: String, reason: String) throws {
        _ = try call("TerminateJob", ["jobId": .string(id), "reason": .string(reason)], resource: "job \(id)")
    }

    // MARK: Job definitions

    /// The ACTIVE revisions of a job definition name (newest first).
    public func activeJobDefinitions(named name: String) throws -> [JSONValue] {
        let answer = try call(
            "DescribeJobDefinitions", ["jobDefinitionName": .string(name), "status": "ACTIVE"], resource: "job definition \(name)")
        return (answer["jobDefinitions"]?.arrayValue ?? []).sorted { ($0["revision"]?.int64Value ?? 0) > ($1["revision"]?.int64Value ?? 0) }
    }

    /// Registers a job definition (`body` without its name); returns its ARN.
    public func registerJobDefinition(named name: String, _ body: JSONObject) throws -> String {
        var body = body
        body["jobDefinitionName"] = .string(name)
        let answer = try call("RegisterJobDefinition", .object(body), resource: "job definition \(name)")
        return answer["jobDefinitionArn"]?.stringValue ?? name
    }

    public func deregisterJobDefinition(_ arn: String) throws {
        _ = try call("DeregisterJobDefinition", ["jobDefinition": .string(arn)], resource: "job definition \(arn)")
    }

    // MARK: Queues and compute environments

    /// The compute environment of this name, if any.
    public func computeEnvironment(_ name: String) throws -> JSONValue? {
        let answer = try call("DescribeComputeEnvironments", ["computeEnvironments": [.string(name)]], resource: "compute environment \(name)")
        return answer["computeEnvironments"]?.arrayValue?.first
    }

    /// The job queue of this name, if any.
    public func jobQueue(_ name: String) throws -> JSONValue? {
        let answer = try call("DescribeJobQueues", ["jobQueues": [.string(name)]], resource: "job queue \(name)")
        return answer["jobQueues"]?.arrayValue?.first
    }

    /// A JSON object of strings (tags, parameters), its keys sorted.
    public static func stringMap(_ d: [String: String]) -> JSONValue {
        .object(JSONObject(d.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
    }
}
