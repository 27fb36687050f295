import Foundation
import TestSupport
import Testing

/// `examples/swift-library`, the program docs/library.md walks through, built with the package and run as a user would:
/// it plans, runs, follows and queries an experiment through the libraries, and the record it leaves is the one
/// `clowdr` reads.
@Suite(
    "the library example",
    .enabled(
        if: TestSupport.binary("clowdr-library-example") != nil && TestSupport.binary("clowdr") != nil,
        "build the package first (swift build): clowdr-library-example and clowdr"))
struct LibraryExampleTests {
    let example = TestSupport.binary("clowdr-library-example") ?? "clowdr-library-example"
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"
    let tool = TestSupport.repositoryRoot + "/examples/swift-library/tool"

    @Test("plans, runs, follows and queries the example tool's three tasks")
    func runsEndToEnd() throws {
        let dir = try TestSupport.temporaryDirectory("library-example")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Run from `dir`, as a user would from theirs; the tasks write in PROVDIR/outputs.
        let r = try TestSupport.run(
            "/bin/sh", ["-c", "cd \"$1\" && exec \"$2\" \"$3\" \"$4\" provdir", "sh", dir, example, tool + "/descriptor.json", tool + "/invocations"])
        #expect(r.status == 1, "one task fails on purpose: \(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("experiment ") == true, "\(r.stdout)")
        // Followed: each attempt reported as it ended, in whatever order they ended.
        let ends = Set(lines.filter { $0.hasPrefix("task ") && $0.contains(" attempt 1: ") })
        #expect(
            ends == ["task 0 attempt 1: succeeded, exit 0", "task 1 attempt 1: succeeded, exit 0", "task 2 attempt 1: failed, exit 3"],
            "\(r.stdout)")
        #expect(lines.contains("3 attempts launched: 2 succeeded"))
        #expect(lines.contains { $0.hasPrefix("failed: task 2 ") && $0.hasSuffix("exit 3: nothing to count") }, "\(r.stdout)")
        #expect(r.stdout.hasSuffix("state,tasks\nfailed,1\nsucceeded,2\n"), "\(r.stdout)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/count-b.txt"), "nothing is written in the current folder")
        #expect(
            try String(contentsOfFile: dir + "/provdir/outputs/count-b.txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "6")

        // The record is clowdr's: its status says the same.
        let status = try TestSupport.run(clowdr, ["status", "--json", dir + "/provdir"])
        let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect(object?["tasks"] as? Int == 3)
        #expect((object?["counts"] as? [String: Any])?["failed"] as? Int == 1)
    }
}
