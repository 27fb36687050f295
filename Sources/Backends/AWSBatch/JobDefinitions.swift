import AWS
import ClowdrErrors
import Digest
import Foundation
import JSON

/// Job definitions, one per image and resources, reused by every run that asks for the same (users of other tools
/// find thousands of revisions left behind). The name is a digest of what the definition holds; a new one is
/// registered only when no ACTIVE revision of that name exists, and is added to the set-up's record so that
/// `clowdr cloud teardown` deregisters it.
struct JobDefinitions {
    var settings: AWSBatchSettings
    var client: BatchClient

    /// The vCPUs and memory (MiB) asked for: `cpus`/`vcpus` and `mem`/`memory` of `--clusterargs` (memory as
    /// 2048, 2048M, 2G); defaults 1 vCPU and 2048 MiB.
    static func requirements(_ resources: [String: String]) throws -> (vcpus: Int, memoryMiB: Int) {
        let cpus = resources["vcpus"] ?? resources["cpus"] ?? "1"
        guard let vcpus = Int(cpus), vcpus >= 1 else {
            throw BackendError("--clusterargs cpus:\(cpus): give a whole number of vCPUs", code: "usage.clusterargs", usage: true)
        }
        let mem = (resources["mem"] ?? resources["memory"] ?? "2048").uppercased()
        let scale = mem.hasSuffix("G") ? 1024 : 1
        guard let amount = Int(mem.trimmingCharacters(in: CharacterSet(charactersIn: "MGB"))), amount >= 1 else {
            throw BackendError("--clusterargs mem:\(mem): give MiB (2048), or 2048M, or 2G", code: "usage.clusterargs", usage: true)
        }
        return (vcpus, amount * scale)
    }

    /// The ARN of the definition for these resources and host volumes (`HOST:CONTAINER[:ro]`: a folder of the
    /// instance, such as a shared file system it mounts), registered if needed.
    func arn(for resources: [String: String], volumes: [String]) throws -> String {
        let (vcpus, memory) = try Self.requirements(resources)
        var body: JSONObject = [
            "type": "container", "platformCapabilities": ["EC2"], "propagateTags": true,
            "containerProperties": [
                "image": .string(settings.image),
                "command": [.string(settings.clowdrPath), "task", "--array", "Ref::map", "--events", "Ref::segments"],
                "resourceRequirements": [
                    ["type": "VCPU", "value": .string(String(vcpus))], ["type": "MEMORY", "value": .string(String(memory))],
                ],
                "jobRoleArn": .string(settings.record.jobRole),
                "environment": [["name": "AWS_REGION", "value": .string(settings.configuration.region)]],
            ],
            "tags": BatchClient.stringMap(["clowdr:setup": settings.record.name, "created-by": "clowdr"]),
        ]
        if !volumes.isEmpty, var container = body["containerProperties"]?.objectValue {
            let parts = volumes.map { $0.split(separator: ":").map(String.init) }
            container["volumes"] = .array(parts.enumerated().map { i, p in ["name": .string("v\(i)"), "host": ["sourcePath": .string(p[0])]] })
            container["mountPoints"] = .array(
                parts.enumerated().map { i, p in
                    [
                        "sourceVolume": .string("v\(i)"), "containerPath": .string(p.count > 1 ? p[1] : p[0]),
                        "readOnly": .bool(p.count > 2 && p[2] == "ro"),
                    ]
                })
            body["containerProperties"] = .object(container)
        }
        let digest = Hex.lowercase(SHA256.digest(Data(JSONWriter(sortKeys: true).string(.object(body)).utf8)))
        let name = "\(settings.record.name)-\(digest.prefix(16))"
        if let existing = try client.activeJobDefinitions(named: name).first?["jobDefinitionArn"]?.stringValue { return existing }
        let arn = try client.registerJobDefinition(named: name, body)
        try remember(CloudRecord.Resource(kind: "job_definition", name: name, arn: arn))
        return arn
    }

    /// Adds a registered definition to the set-up's record (read again first: another run may have added one).
    func remember(_ r: CloudRecord.Resource) throws {
        var record = try CloudRecord.load(settings.recordPath) ?? settings.record
        if !record.created.contains(r) { record.created.append(r) }
        try record.save(settings.recordPath)
    }
}
