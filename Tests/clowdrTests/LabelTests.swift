import Foundation
import TestSupport
import Testing

/// Tasks say who they are: the labels the planner gives (the invocation file and the parameters that differ, the
/// swept values, participant and session) appear wherever a task does.
@Suite("task labels everywhere", .serialized, .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct LabelTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    @Test("a folder of invocations: labels in status, query, -V, --where, the JSON and PROV exports")
    func folderOfInvocations() throws {
        let dir = try TestSupport.temporaryDirectory("labels")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d =
            #"{"name":"l","tool-version":"1","description":"d","schema-version":"0.5","command-line":"exit [CODE] [SUBJECT] [SITE]","inputs":[{"id":"code","name":"c","type":"Number","integer":true,"value-key":"[CODE]"},{"id":"subject","name":"s","type":"String","value-key":"[SUBJECT]"},{"id":"site","name":"site","type":"String","value-key":"[SITE]","optional":true}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/inv", withIntermediateDirectories: true)
        for (name, code, subject) in [("alice", 0, "A"), ("bob", 3, "B"), ("carol", 0, "C")] {
            try #"{"code": \#(code), "subject": "\#(subject)", "site": "montreal"}"#.write(
                toFile: "\(dir)/inv/\(name).json", atomically: true, encoding: .utf8)
        }
        let run = try TestSupport.run(clowdr, ["run", dir + "/d.json", dir + "/inv", "--provdir", dir + "/prov", "-V", "-j", "1"])
        #expect(run.status == 1)
        #expect(run.stdout.contains("task 1 (code=3 invocation=bob subject=B) attempt 1: failed"), "\(run.stdout)")
        let status = try TestSupport.run(clowdr, ["status", dir + "/prov"]).stdout
        #expect(status.contains("failed: task 1 (code=3 invocation=bob subject=B) attempt 1: exit 3"), "\(status)")
        let query = try TestSupport.run(clowdr, ["query", "--format", "tsv", dir + "/prov"]).stdout
        #expect(query.contains("\tcode=0 invocation=alice subject=A\n"), "\(query)")
        #expect(!query.contains("site="), "a parameter the same in every file is no label")
        let json = try TestSupport.run(clowdr, ["query", "--format", "json", dir + "/prov"]).stdout
        #expect(json.contains(#""params":"code=0 invocation=carol subject=C""#))
        let matched = try TestSupport.run(clowdr, ["query", "--where", "invocation=carol", "--format", "tsv", dir + "/prov"]).stdout
        #expect(matched.split(separator: "\n").dropFirst().map { $0.prefix(2) } == ["2\t"], "\(matched)")
        let exp = dir + "/prov/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/prov").sorted().last!)
        #expect(try TestSupport.run(clowdr, ["export", "json", exp, "-o", dir + "/e.json"]).status == 0)
        #expect(try String(contentsOfFile: dir + "/e.json", encoding: .utf8).contains(#""labels":{"code":"3","invocation":"bob","subject":"B"}"#))
        #expect(try TestSupport.run(clowdr, ["export", "prov", exp, "--format", "provn", "-o", dir + "/p.provn"]).status == 0)
        #expect(
            try String(contentsOfFile: dir + "/p.provn", encoding: .utf8).contains(
                #"prov:label="task 1 attempt 1 (code=3 invocation=bob subject=B)""#))
    }
}
