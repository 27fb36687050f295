public import AWS
import ClowdrErrors
import Foundation
import JSON

/// `clowdr cloud setup` and `teardown`: what AWS Batch needs before a run, made by direct API calls (no
/// CloudFormation stack to fail opaquely or to block re-creation), each resource reused when it exists, tagged
/// `clowdr:setup=NAME`, and recorded (`CloudRecord`) so that teardown removes exactly what setup created.
///
/// Made, in this order: a service role for Batch, an instance role and its instance profile for the EC2 hosts, a job
/// role for the containers (with an inline policy granting the S3 locations declared, `S3Grants`, and nothing else),
/// a managed compute environment (EC2 or SPOT, from 0 to `maxvCPUs` vCPUs) in the default VPC, and a job queue on it.
public struct CloudSetup: Sendable {
    public struct Options: Sendable {
        /// The first part of every resource's name.
        public var name = "clowdr"
        /// The most vCPUs the compute environment runs at once: the ceiling of what a run costs per hour.
        public var maxvCPUs = 64
        /// EC2 instance types (`optimal`: Batch chooses among C, M and R families).
        public var instanceTypes = ["optimal"]
        /// Spot instances (reclaimable, up to 90% cheaper); clowdr reruns reclaimed attempts.
        public var spot = false
        /// S3 locations the job role may use, added to those the set-up declared before (`--s3`, `--read`).
        public var locations = S3Grants()
        /// The locations given replace those declared before, instead of adding to them.
        public var replaceLocations = false
        public init() {}
    }

    public var configuration: AWSConfiguration
    public var options: Options
    /// Told one line for each thing done or found.
    public var say: @Sendable (String) -> Void = { _ in }
    /// How long a compute environment or queue may take to become VALID, or to go away.
    public var patience = 600.0
    /// How long a changed role policy is left to spread through IAM once IAM reads it back (AWS documents that
    /// changes take a few seconds to be seen everywhere; a server at a custom endpoint, such as moto, needs none).
    public var settle: Double

    public init(configuration: AWSConfiguration, options: Options = Options()) {
        self.configuration = configuration
        self.options = options
        settle = configuration.customEndpoint("iam") == nil ? 10 : 0
    }

    var iam: IAMClient { IAMClient(configuration: configuration) }
    var batch: BatchClient { BatchClient(configuration: configuration) }
    var tags: [String: String] { ["clowdr:setup": options.name, "created-by": "clowdr"] }

    public static let batchServicePolicy = "arn:aws:iam::aws:policy/service-role/AWSBatchServiceRole"
    public static let instancePolicy = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
    /// What the job role of an earlier clowdr had: every bucket of the account. Setup replaces it with `S3Grants`.
    static let broadJobPolicy = "arn:aws:iam::aws:policy/AmazonS3FullAccess"

    /// Makes what is missing, reuses what exists; returns the record (saved by the caller). Run twice, the second
    /// run creates nothing and returns the same record.
    public func setup(previous: CloudRecord?) throws -> CloudRecord {
        var created = previous?.created ?? []
        func note(_ r: CloudRecord.Resource, new: Bool) {
            if new, !created.contains(r) { created.append(r) }
            say("\(new ? "created" : "exists ") \(r.kind) \(r.name)")
        }
        let n = options.name
        let service = try role("\(n)-batch-service", trusting: "batch.amazonaws.com", policy: Self.batchServicePolicy, note: note)
        let instance = try role("\(n)-instance", trusting: "ec2.amazonaws.com", policy: Self.instancePolicy, note: note)
        let profile = try instanceProfile("\(n)-instance", role: "\(n)-instance", note: note)
        // At a custom endpoint (moto, a test server) no ECS gives containers the job role's keys: runs assume the
        // role themselves and hand its keys to the containers, so the caller is trusted too.
        let caller = configuration.customEndpoint("sts") != nil ? try STSClient(configuration: configuration).callerIdentity().arn : nil
        let job = try role("\(n)-job", trusting: "ecs-tasks.amazonaws.com", principal: caller, policy: nil, note: note)
        let grants = options.replaceLocations ? options.locations : (previous?.locations ?? S3Grants()).adding(options.locations)
        try scope(jobRole: "\(n)-job", to: grants)
        _ = instance
        let environment = try computeEnvironment(n, serviceRole: service, instanceProfile: profile, note: note)
        let queue = try jobQueue(n, on: environment, note: note)
        var record = CloudRecord(
            name: n, region: configuration.region, endpoint: configuration.customEndpoint("batch"), jobQueue: queue, jobRole: job, created: created)
        record.locations = grants
        return record
    }

    func role(
        _ name: String, trusting service: String, principal: String? = nil, policy: String?, note: (CloudRecord.Resource, Bool) -> Void
    ) throws -> String {
        if let existing = try iam.role(name) {
            note(CloudRecord.Resource(kind: "role", name: name, arn: existing.arn), false)
            return existing.arn
        }
        let arn = try iam.createRole(name, trusting: service, principal: principal, tags: tags)
        if let policy { try iam.attachRolePolicy(name, policy: policy) }
        note(CloudRecord.Resource(kind: "role", name: name, arn: arn), true)
        return arn
    }

    /// Gives the job role exactly `grants` (its inline policy `clowdr-job-s3`), and takes away the broad S3 policy
    /// an earlier clowdr attached. A changed policy is waited for: read back from IAM, then left `settle` seconds
    /// to spread, so that no run races it.
    func scope(jobRole name: String, to grants: S3Grants) throws {
        guard let role = try iam.role(name), role.tags["clowdr:setup"] == options.name else {
            return say("kept    role \(name): it does not carry the tag clowdr:setup=\(options.name), so its policies are left as they are")
        }
        let document = try grants.documentText()
        let changed = try iam.rolePolicy(name, policy: S3Grants.policyName).map { Self.sameDocument($0, document) } != true
        if changed {
            try iam.putRolePolicy(name, policy: S3Grants.policyName, document: document)
            try waitUntil("IAM to show the new policy of role \(name)") {
                try iam.rolePolicy(name, policy: S3Grants.policyName).map { Self.sameDocument($0, document) } == true
            }
        }
        if try iam.attachedPolicies(name).contains(Self.broadJobPolicy) {
            try iam.detachRolePolicy(name, policy: Self.broadJobPolicy)
            say("replaced AmazonS3FullAccess on role \(name) (every bucket of the account) with the scoped policy \(S3Grants.policyName)")
        }
        let declared = grants.isEmpty ? "no S3 location yet (add one: clowdr cloud setup --s3 s3://BUCKET/PREFIX)" : grants.options
        say("\(changed ? "scoped " : "exists ") role \(name): S3 \(declared)")
        if changed && settle > 0 {
            say("waiting \(Int(settle)) s for IAM to spread the new policy")
            Thread.sleep(forTimeInterval: settle)
        }
    }

    /// Whether two policy documents say the same (IAM may give back another spacing or key order).
    public static func sameDocument(_ a: String, _ b: String) -> Bool {
        guard let x = try? JSONParser.parse([UInt8](a.utf8)), let y = try? JSONParser.parse([UInt8](b.utf8)) else { return a == b }
        return JSONWriter(sortKeys: true).string(x) == JSONWriter(sortKeys: true).string(y)
    }

    func instanceProfile(_ name: String, role: String, note: (CloudRecord.Resource, Bool) -> Void) throws -> String {
        if let existing = try iam.instanceProfile(name) {
            if !existing.roles.contains(role) { try iam.addRole(role, toInstanceProfile: name) }
            note(CloudRecord.Resource(kind: "instance_profile", name: name, arn: existing.arn), false)
            return existing.arn
        }
        let arn = try iam.createInstanceProfile(name, tags: tags)
        try iam.addRole(role, toInstanceProfile: name)
        note(CloudRecord.Resource(kind: "instance_profile", name: name, arn: arn), true)
        return arn
    }

    func computeEnvironment(
        _ name: String, serviceRole: String, instanceProfile: String, note: (CloudRecord.Resource, Bool) -> Void
    ) throws -> String {
        if let existing = try batch.computeEnvironment(name), existing["status"]?.stringValue != "DELETED" {
            let arn = existing["computeEnvironmentArn"]?.stringValue ?? name
            note(CloudRecord.Resource(kind: "compute_environment", name: name, arn: arn), false)
            return arn
        }
        let ec2 = EC2Client(configuration: configuration)
        let subnets = try ec2.defaultSubnets()
        guard !subnets.isEmpty else {
            throw BackendError(
                "region \(configuration.region) has no default VPC subnets: create a default VPC (aws ec2 create-default-vpc), then run setup again",
                code: "aws.no_default_vpc", usage: true)
        }
        var resources: JSONObject = [
            "type": .string(options.spot ? "SPOT" : "EC2"), "minvCpus": 0, "maxvCpus": .number(JSONNumber(options.maxvCPUs)),
            "desiredvCpus": 0, "instanceTypes": .array(options.instanceTypes.map { .string($0) }),
            "subnets": .array(subnets.map { .string($0) }), "securityGroupIds": .array(try ec2.defaultSecurityGroups().map { .string($0) }),
            "instanceRole": .string(instanceProfile), "tags": BatchClient.stringMap(tags),
        ]
        if options.spot { resources["allocationStrategy"] = "SPOT_CAPACITY_OPTIMIZED" }
        let answer = try batch.call(
            "CreateComputeEnvironment",
            [
                "computeEnvironmentName": .string(name), "type": "MANAGED", "state": "ENABLED", "computeResources": .object(resources),
                "serviceRole": .string(serviceRole), "tags": BatchClient.stringMap(tags),
            ], resource: "compute environment \(name)")
        let arn = answer["computeEnvironmentArn"]?.stringValue ?? name
        try waitUntil("compute environment \(name) is VALID") {
            let e = try batch.computeEnvironment(name)
            if e?["status"]?.stringValue == "INVALID" {
                throw BackendError(
                    "compute environment \(name) is INVALID: \(e?["statusReason"]?.stringValue ?? "no reason given"); fix that, run clowdr cloud teardown, then setup",
                    code: "aws.compute_environment_invalid")
            }
            return e?["status"]?.stringValue == "VALID"
        }
        note(CloudRecord.Resource(kind: "compute_environment", name: name, arn: arn), true)
        return arn
    }

    func jobQueue(_ name: String, on environment: String, note: (CloudRecord.Resource, Bool) -> Void) throws -> String {
        if let existing = try batch.jobQueue(name), existing["status"]?.stringValue != "DELETED" {
            let arn = existing["jobQueueArn"]?.stringValue ?? name
            note(CloudRecord.Resource(kind: "job_queue", name: name, arn: arn), false)
            return arn
        }
        let answer = try batch.call(
            "CreateJobQueue",
            [
                "jobQueueName": .string(name), "state": "ENABLED", "priority": 1,
                "computeEnvironmentOrder": [["order": 1, "computeEnvironment": .string(environment)]], "tags": BatchClient.stringMap(tags),
            ], resource: "job queue \(name)")
        let arn = answer["jobQueueArn"]?.stringValue ?? name
        try waitUntil("job queue \(name) is VALID") { try batch.jobQueue(name)?["status"]?.stringValue == "VALID" }
        note(CloudRecord.Resource(kind: "job_queue", name: name, arn: arn), true)
        return arn
    }

    /// Removes what the record says setup created, newest first, each only if it still carries this set-up's tag;
    /// waits for each deletion. What is already gone is skipped, so teardown can run twice. Returns what is left of
    /// the record (empty when everything went).
    public func teardown(_ record: CloudRecord) throws -> [CloudRecord.Resource] {
        var left: [CloudRecord.Resource] = []
        for r in record.created.reversed() {
            switch r.kind {
            case "job_definition": try deregister(r)
            case "job_queue": try deleteQueue(r)
            case "compute_environment": try deleteComputeEnvironment(r)
            case "instance_profile": try deleteInstanceProfile(r)
            case "role": if !(try deleteRole(r)) { left.append(r) }
            default: left.append(r)
            }
        }
        return left
    }

    func deregister(_ r: CloudRecord.Resource) throws {
        do { try batch.deregisterJobDefinition(r.arn) } catch let e as AWSError where e.errorCode.hasPrefix("aws.client") {
            say("gone    job_definition \(r.name)")
            return
        }
        say("removed job_definition \(r.name)")
    }

    /// Whether a Batch resource (its description) carries this set-up's tag.
    func ours(_ description: JSONValue) -> Bool { description["tags"]?["clowdr:setup"]?.stringValue == options.name }

    func deleteQueue(_ r: CloudRecord.Resource) throws {
        guard let q = try batch.jobQueue(r.name), q["status"]?.stringValue != "DELETED" else { return say("gone    job_queue \(r.name)") }
        guard ours(q) else { return say("kept    job_queue \(r.name): it does not carry the tag clowdr:setup=\(options.name)") }
        if q["state"]?.stringValue != "DISABLED" {
            _ = try batch.call("UpdateJobQueue", ["jobQueue": .string(r.arn), "state": "DISABLED"], resource: "job queue \(r.name)")
            try waitUntil("job queue \(r.name) is disabled") {
                let q = try batch.jobQueue(r.name)
                return q?["state"]?.stringValue == "DISABLED" && q?["status"]?.stringValue != "UPDATING"
            }
        }
        _ = try batch.call("DeleteJobQueue", ["jobQueue": .string(r.arn)], resource: "job queue \(r.name)")
        try waitUntil("job queue \(r.name) is deleted") { (try batch.jobQueue(r.name)).map { $0["status"]?.stringValue == "DELETED" } ?? true }
        say("removed job_queue \(r.name)")
    }

    func deleteComputeEnvironment(_ r: CloudRecord.Resource) throws {
        guard let e = try batch.computeEnvironment(r.name), e["status"]?.stringValue != "DELETED" else {
            return say("gone    compute_environment \(r.name)")
        }
        guard ours(e) else { return say("kept    compute_environment \(r.name): it does not carry the tag clowdr:setup=\(options.name)") }
        if e["state"]?.stringValue != "DISABLED" {
            _ = try batch.call(
                "UpdateComputeEnvironment", ["computeEnvironment": .string(r.arn), "state": "DISABLED"], resource: "compute environment \(r.name)")
            try waitUntil("compute environment \(r.name) is disabled") {
                let e = try batch.computeEnvironment(r.name)
                return e?["state"]?.stringValue == "DISABLED" && e?["status"]?.stringValue != "UPDATING"
            }
        }
        _ = try batch.call("DeleteComputeEnvironment", ["computeEnvironment": .string(r.arn)], resource: "compute environment \(r.name)")
        try waitUntil("compute environment \(r.name) is deleted") {
            (try batch.computeEnvironment(r.name)).map { $0["status"]?.stringValue == "DELETED" } ?? true
        }
        say("removed compute_environment \(r.name)")
    }

    func deleteInstanceProfile(_ r: CloudRecord.Resource) throws {
        guard let p = try iam.instanceProfile(r.name) else { return say("gone    instance_profile \(r.name)") }
        for role in p.roles { try iam.removeRole(role, fromInstanceProfile: r.name) }
        try iam.deleteInstanceProfile(r.name)
        say("removed instance_profile \(r.name)")
    }

    /// Deletes a role clowdr created (its policies detached first); false when it was kept (not tagged as ours).
    func deleteRole(_ r: CloudRecord.Resource) throws -> Bool {
        guard let role = try iam.role(r.name) else {
            say("gone    role \(r.name)")
            return true
        }
        guard role.tags["clowdr:setup"] == options.name else {
            say("kept    role \(r.name): it does not carry the tag clowdr:setup=\(options.name)")
            return false
        }
        for policy in try iam.attachedPolicies(r.name) { try iam.detachRolePolicy(r.name, policy: policy) }
        for policy in try iam.rolePolicies(r.name) { try iam.deleteRolePolicy(r.name, policy: policy) }
        try iam.deleteRole(r.name)
        say("removed role \(r.name)")
        return true
    }

    /// Polls `done` (1 s, growing to 10 s) until it holds, for at most `patience` seconds.
    func waitUntil(_ what: String, _ done: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(patience)
        var pause = 0.2
        while !(try done()) {
            guard Date() < deadline else {
                throw BackendError("waited \(Int(patience)) s for \(what); run the command again to go on waiting", code: "aws.wait_timeout")
            }
            Thread.sleep(forTimeInterval: pause)
            pause = min(10, pause * 2)
        }
    }
}
