import AWS
import Backends
import Foundation
import JSON
import Testing

@Suite(
    "clowdr cloud setup and teardown against moto",
    .enabled(if: Moto.available, "moto is not running: scripts/moto/setup.sh starts it (make test does)"))
struct CloudSetupTests {
    /// Lines said by a set-up, kept for the checks.
    final class Said: @unchecked Sendable {
        let lock = NSLock()
        var lines: [String] = []
        func add(_ s: String) { lock.withLock { lines.append(s) } }
        func take() -> [String] {
            lock.withLock {
                defer { lines = [] }
                return lines
            }
        }
    }

    /// A set-up named `name` on moto, declaring `grants`, telling `said` what it does.
    static func setup(_ name: String, _ grants: S3Grants = S3Grants(), said: Said) -> CloudSetup {
        var o = CloudSetup.Options()
        o.name = name
        o.locations = grants
        var s = CloudSetup(configuration: Moto.configuration(), options: o)
        s.say = { said.add($0) }
        return s
    }

    @Test(
        "setup makes tagged resources and reuses what exists; setup again changes nothing; teardown removes exactly those, leaves a role it did not make, and runs twice"
    )
    func setupTwiceTeardownTwice() throws {
        let name = "ct\(getpid())\(Int.random(in: 0..<100_000))"
        let said = Said()
        let s = Self.setup(name, said: said)
        let iam = IAMClient(configuration: Moto.configuration())
        let batch = BatchClient(configuration: Moto.configuration())
        // Someone else's role with one of the names setup would use: reused, never recorded, never removed.
        _ = try iam.createRole("\(name)-job", trusting: "ecs-tasks.amazonaws.com", tags: ["owner": "someone-else"])

        let first = try s.setup(previous: nil)
        #expect(first.created.map(\.kind) == ["role", "role", "instance_profile", "compute_environment", "job_queue"])
        #expect(said.take().filter { $0.hasPrefix("exists") } == ["exists  role \(name)-job"])
        #expect(try iam.role("\(name)-batch-service")?.tags["clowdr:setup"] == name)
        #expect(try batch.jobQueue(name)?["tags"]?["clowdr:setup"]?.stringValue == name)
        #expect(first.jobQueue.hasSuffix("job-queue/\(name)") && first.jobRole.hasSuffix("role/\(name)-job"))

        let second = try s.setup(previous: first)
        #expect(second == first)
        // Everything exists; the role someone else made keeps its policies.
        #expect(said.take().allSatisfy { $0.hasPrefix("exists") || $0.hasPrefix("kept    role \(name)-job") })

        let left = try s.teardown(second)
        #expect(left.isEmpty)
        #expect(try iam.role("\(name)-batch-service") == nil && iam.role("\(name)-instance") == nil && iam.instanceProfile("\(name)-instance") == nil)
        #expect(try batch.jobQueue(name).map { $0["status"]?.stringValue == "DELETED" } ?? true)
        #expect(try batch.computeEnvironment(name).map { $0["status"]?.stringValue == "DELETED" } ?? true)
        #expect(try iam.role("\(name)-job") != nil, "a role setup did not create is left alone")
        _ = said.take()
        #expect(try s.teardown(second).isEmpty)
        #expect(said.take().allSatisfy { $0.hasPrefix("gone") })
        try iam.deleteRole("\(name)-job")
    }
}
