import AWS
import Backends
import ClowdrErrors
import Foundation
import JSON
import Testing

/// The policies clowdr generates, evaluated by moto (its IAM authorisation is on: every request is signed, and
/// moto checks it against the caller's policies) rather than read by eye.
@Suite(
    "the job role's scoped policy, evaluated by moto", .serialized,
    .enabled(if: Moto.available, "moto is not running: scripts/moto/setup.sh starts it (make test does)"))
struct JobPolicyTests {
    /// Runs `body`; true when AWS refused it with AccessDenied.
    func refused(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch let e as AWSError { return e.errorCode.hasPrefix("aws.accessdenied") } catch { return false }
    }

    @Test(
        "with the job role's keys: reading and writing the run's location and reading a declared dataset work; reading, writing or deleting anywhere else, and any Batch or IAM call, are AccessDenied"
    )
    func scopedRole() throws {
        let tag = "\(getpid())\(Int.random(in: 0..<100_000))"
        let (lab, data, other) = ("jp-lab-\(tag)", "jp-data-\(tag)", "jp-other-\(tag)")
        let admin = S3Client(configuration: Moto.configuration())
        for b in [lab, data, other] { try admin.createBucket(b) }
        for (b, k) in [(lab, "runs/in.txt"), (lab, "private/secret.txt"), (lab, "runs-old/x.txt"), (data, "ds/sub-01.txt"), (other, "x.txt")] {
            try admin.put(Data("x".utf8), bucket: b, key: k)
        }
        let said = CloudSetupTests.Said()
        let name = "jp\(tag)"
        let s = CloudSetupTests.setup(name, S3Grants(readWrite: ["s3://\(lab)/runs"], readOnly: ["s3://\(data)/ds"]), said: said)
        let record = try s.setup(previous: nil)
        defer { _ = try? s.teardown(record) }
        #expect(said.take().contains { $0.hasPrefix("scoped  role \(name)-job: S3 --s3 s3://\(lab)/runs --read s3://\(data)/ds") })
        #expect(try IAMClient(configuration: Moto.configuration()).attachedPolicies("\(name)-job").isEmpty, "no managed policy on the job role")

        // What a container gets: the role's own keys.
        let keys = try STSClient(configuration: Moto.configuration()).assumeRole(record.jobRole, session: "test")
        let role = AWSConfiguration(credentials: keys, region: "us-east-1", endpoints: ["": Moto.endpoint!])
        let s3 = S3Client(configuration: role)
        try s3.put(Data("new".utf8), bucket: lab, key: "runs/exp/out.txt")
        #expect(try s3.get(bucket: lab, key: "runs/in.txt") == Data("x".utf8))
        #expect(try s3.list(bucket: lab, prefix: "runs/").map(\.key).sorted() == ["runs/exp/out.txt", "runs/in.txt"])
        #expect(try s3.get(bucket: data, key: "ds/sub-01.txt") == Data("x".utf8))
        #expect(try s3.list(bucket: data, prefix: "ds/").count == 1)
        // A multipart upload inside the location (what large outputs use).
        try Data(repeating: 7, count: 6 << 20).write(to: URL(fileURLWithPath: NSTemporaryDirectory() + "jp-\(tag)"))
        defer { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "jp-\(tag)") }
        try s3.upload(file: NSTemporaryDirectory() + "jp-\(tag)", to: S3Location(bucket: lab, key: "runs/exp/big"))

        let elsewhere: [(String, () throws -> Void)] = [
            ("write into the read-only dataset", { try s3.put(Data("y".utf8), bucket: data, key: "ds/evil.txt") }),
            ("read beside the run's location", { _ = try s3.get(bucket: lab, key: "private/secret.txt") }),
            ("read a prefix that only starts like it", { _ = try s3.get(bucket: lab, key: "runs-old/x.txt") }),
            ("write beside it", { try s3.put(Data("y".utf8), bucket: lab, key: "private/x.txt") }),
            ("delete inside it", { try s3.delete(bucket: lab, key: "runs/in.txt") }),
            ("read another bucket", { _ = try s3.get(bucket: other, key: "x.txt") }),
            ("write another bucket", { try s3.put(Data("y".utf8), bucket: other, key: "y.txt") }),
            ("delete in another bucket", { try s3.delete(bucket: other, key: "x.txt") }),
            ("list another bucket", { _ = try s3.list(bucket: other) }),
            ("create a bucket", { try s3.createBucket("jp-new-\(tag)") }),
            ("a Batch call", { _ = try BatchClient(configuration: role).call("DescribeJobQueues", [:], resource: "job queues") }),
            ("an IAM call", { _ = try IAMClient(configuration: role).role("\(name)-job") }),
            ("an IAM change", { try IAMClient(configuration: role).putRolePolicy("\(name)-job", policy: "more", document: "{}") }),
        ]
        for (what, call) in elsewhere { #expect(refused(call), "not refused: \(what)") }
        #expect(try admin.get(bucket: lab, key: "runs/in.txt") == Data("x".utf8), "nothing deleted")
    }

    @Test("setup on an account an earlier clowdr set up replaces AmazonS3FullAccess with the scoped policy, and says so; teardown removes both")
    func earlierSetup() throws {
        let tag = "\(getpid())\(Int.random(in: 0..<100_000))"
        let name = "je\(tag)"
        let iam = IAMClient(configuration: Moto.configuration())
        // What an earlier clowdr made: the job role with every bucket, recorded as created.
        let arn = try iam.createRole("\(name)-job", trusting: "ecs-tasks.amazonaws.com", tags: ["clowdr:setup": name, "created-by": "clowdr"])
        try iam.attachRolePolicy("\(name)-job", policy: "arn:aws:iam::aws:policy/AmazonS3FullAccess")
        let earlier = CloudRecord(
            name: name, region: "us-east-1", endpoint: Moto.endpoint, jobQueue: "", jobRole: arn,
            created: [CloudRecord.Resource(kind: "role", name: "\(name)-job", arn: arn)])
        #expect(earlier.locations == nil)
        let said = CloudSetupTests.Said()
        let s = CloudSetupTests.setup(name, S3Grants(readWrite: ["s3://jp-lab/runs"]), said: said)
        let record = try s.setup(previous: earlier)
        let lines = said.take()
        #expect(
            lines.contains("replaced AmazonS3FullAccess on role \(name)-job (every bucket of the account) with the scoped policy clowdr-job-s3"),
            "\(lines)")
        #expect(try iam.attachedPolicies("\(name)-job").isEmpty)
        let document = try #require(try iam.rolePolicy("\(name)-job", policy: S3Grants.policyName))
        #expect(CloudSetup.sameDocument(document, try S3Grants(readWrite: ["s3://jp-lab/runs"]).documentText()))
        #expect(record.locations == S3Grants(readWrite: ["s3://jp-lab/runs"]))
        // Locations given later are added to those declared; --replace-locations replaces them.
        let more = CloudSetupTests.setup(name, S3Grants(readOnly: ["s3://jp-data/ds"]), said: said)
        #expect(try more.setup(previous: record).locations == S3Grants(readWrite: ["s3://jp-lab/runs"], readOnly: ["s3://jp-data/ds"]))
        #expect(try s.teardown(record).isEmpty)
        #expect(try iam.role("\(name)-job") == nil, "the role and its inline policy are gone")
    }

    /// A user of moto's IAM holding `document` as its only policy; its keys.
    func user(_ name: String, policy document: String) throws -> Credentials {
        let iam = IAMClient(configuration: Moto.configuration()).http
        func call(_ action: String, _ p: [(String, String)]) throws -> String {
            try iam.query(service: "iam", action: action, version: "2010-05-08", p, resource: "user \(name)")
        }
        _ = try call("CreateUser", [("UserName", name)])
        _ = try call("PutUserPolicy", [("UserName", name), ("PolicyName", "p"), ("PolicyDocument", document)])
        let xml = try call("CreateAccessKey", [("UserName", name)])
        func value(_ tag: String) -> String {
            guard let a = xml.range(of: "<\(tag)>"), let b = xml.range(of: "</\(tag)>") else { return "" }
            return String(xml[a.upperBound..<b.lowerBound])
        }
        return Credentials(accessKeyID: value("AccessKeyId"), secretAccessKey: value("SecretAccessKey"))
    }

    @Test(
        "the operator's policy (clowdr cloud policy), evaluated by moto where it can: the set-up's roles and S3 locations allowed, other roles and other S3 places AccessDenied"
    )
    func operatorPolicy() throws {
        let tag = "\(getpid())\(Int.random(in: 0..<100_000))"
        let name = "jo\(tag)"
        let (lab, other) = ("jo-lab-\(tag)", "jo-other-\(tag)")
        let admin = S3Client(configuration: Moto.configuration())
        for b in [lab, other] { try admin.createBucket(b) }
        try admin.put(Data("x".utf8), bucket: other, key: "x.txt")
        let adminIAM = IAMClient(configuration: Moto.configuration())
        _ = try adminIAM.createRole("\(name)-job", trusting: "ecs-tasks.amazonaws.com", tags: ["clowdr:setup": name])
        _ = try adminIAM.createRole("someone-else-\(tag)", trusting: "ecs-tasks.amazonaws.com", tags: [:])
        let grants = S3Grants(readWrite: ["s3://\(lab)/runs"])
        let document = JSONWriter().string(OperatorPolicy.document(setup: name, region: "us-east-1", account: "123456789012", grants: grants))
        let keys = try user("operator-\(tag)", policy: document)
        let operatorSide = AWSConfiguration(credentials: keys, region: "us-east-1", endpoints: ["": Moto.endpoint!])
        let iam = IAMClient(configuration: operatorSide)
        let s3 = S3Client(configuration: operatorSide)
        #expect(try iam.role("\(name)-job") != nil)
        try iam.putRolePolicy("\(name)-job", policy: S3Grants.policyName, document: try grants.documentText())
        try s3.put(Data("y".utf8), bucket: lab, key: "runs/exp/descriptor.json")
        #expect(try s3.get(bucket: lab, key: "runs/exp/descriptor.json") == Data("y".utf8))
        // Batch's statements cannot be checked here: moto passes "*" as every Batch call's resource, and names
        // Batch actions in lower case (batch:describejobqueues), matched case-sensitively, where AWS ignores case.
        let elsewhere: [(String, () throws -> Void)] = [
            ("read another role", { _ = try iam.role("someone-else-\(tag)") }),
            ("change another role's policy", { try iam.putRolePolicy("someone-else-\(tag)", policy: "x", document: try grants.documentText()) }),
            ("delete another role", { try iam.deleteRole("someone-else-\(tag)") }),
            ("read another bucket", { _ = try s3.get(bucket: other, key: "x.txt") }),
            ("write beside the location", { try s3.put(Data("y".utf8), bucket: lab, key: "elsewhere.txt") }),
            ("delete inside the location", { try s3.delete(bucket: lab, key: "runs/exp/descriptor.json") }),
        ]
        for (what, call) in elsewhere { #expect(refused(call), "not refused: \(what)") }
        for role in ["\(name)-job", "someone-else-\(tag)"] {
            for p in try adminIAM.rolePolicies(role) { try adminIAM.deleteRolePolicy(role, policy: p) }
            try adminIAM.deleteRole(role)
        }
    }
}
