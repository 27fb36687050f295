import Foundation
import TestSupport
import Testing

/// The questions asked of observed files, end to end on real runs: participants' runs, then a group analysis of
/// their outputs in a second experiment of the same PROVDIR.
@Suite(
    "Questions of observed files: readers, writers, lineage, diff",
    .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"))
struct FileQuestionsTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    /// A descriptor whose command line is `command` with one parameter `[K]`.
    func descriptor(_ command: String, at path: String) throws {
        let d: [String: Any] = [
            "name": "t", "description": "d", "tool-version": "1", "schema-version": "0.5", "command-line": command,
            "inputs": [["id": "k", "name": "k", "type": "Number", "integer": true, "value-key": "[K]"]],
        ]
        try JSONSerialization.data(withJSONObject: d).write(to: URL(fileURLWithPath: path))
    }

    func run(_ arguments: [String], in dir: String) throws -> TestSupport.Output {
        try TestSupport.run("/bin/sh", ["-c", "cd '\(dir)' && exec '\(clowdr)' " + arguments.map { "'\($0)'" }.joined(separator: " ")])
    }

    /// Two experiments: participants 1 and 2 (`data/in-K.txt` to `mid-K.txt`, through a temporary file renamed),
    /// then a group analysis (`mid-1.txt` and `mid-2.txt` to `group.txt`).
    func experiments() throws -> String {
        let dir = (try TestSupport.temporaryDirectory("questions") as NSString).resolvingSymlinksInPath
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try "one\n".write(toFile: dir + "/data/in-1.txt", atomically: true, encoding: .utf8)
        try "two\n".write(toFile: dir + "/data/in-2.txt", atomically: true, encoding: .utf8)
        try descriptor("tr a-z A-Z < data/in-[K].txt > mid.tmp-[K] && mv mid.tmp-[K] mid-[K].txt", at: dir + "/participant.json")
        try #"{"k": [1, 2]}"#.write(toFile: dir + "/ks.json", atomically: true, encoding: .utf8)
        let first = try run(["run", "participant.json", "ks.json", "--sweep", "k", "-q"], in: dir)
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        try descriptor("cat mid-1.txt mid-2.txt > group.txt #[K]", at: dir + "/group.json")
        try #"{"k": 0}"#.write(toFile: dir + "/zero.json", atomically: true, encoding: .utf8)
        sleep(1)  // experiment ids sort by their second: the group analysis's comes after
        let second = try run(["run", "group.json", "zero.json", "-q"], in: dir)
        #expect(second.status == 0, "\(second.stdout) \(second.stderr)")
        return dir
    }

    func experiment(_ dir: String, _ index: Int) throws -> String {
        dir + "/provdir/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/provdir").sorted()[index])
    }

    @Test("--readers with a glob, --writer of a file renamed into place, lineage back across two experiments, diff of two tasks")
    func questions() throws {
        let dir = try experiments()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let participants = try experiment(dir, 0)
        let readers = try run(["query", participants, "--readers", dir + "/data/in-*.txt", "--format", "tsv"], in: dir)
        let rows = readers.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(Set(rows.map { String($0[0]) }) == ["0", "1"] && rows.allSatisfy { $0[3] == "read" }, "\(readers.stdout) \(readers.stderr)")

        let writer = try run(["query", participants, "--writer", "mid-2.txt", "--format", "tsv"], in: dir)
        let wrote = writer.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(wrote.count == 1 && wrote[0][0] == "1" && wrote[0][3] == "renamed" && wrote[0][7] == "\(dir)/mid-2.txt", "\(writer.stdout)")

        let lineage = try run(["lineage", "group.txt", "--format", "tsv"], in: dir)
        #expect(lineage.status == 0, "\(lineage.stderr)")
        let steps = lineage.stdout.split(separator: "\n").dropFirst().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        let byFile = Dictionary(steps.map { ($0[1].trimmingCharacters(in: .whitespaces), $0) }, uniquingKeysWith: { a, _ in a })
        let groupExperiment = (try experiment(dir, 1) as NSString).lastPathComponent
        #expect(byFile["\(dir)/group.txt"]?[0] == "0" && byFile["\(dir)/group.txt"]?[3] == groupExperiment, "\(lineage.stdout)")
        #expect(byFile["\(dir)/mid-1.txt"]?[0] == "1" && byFile["\(dir)/mid-1.txt"]?[4] == "0", "\(lineage.stdout)")
        #expect(byFile["\(dir)/mid-2.txt"]?[4] == "1" && byFile["\(dir)/data/in-2.txt"]?[0] == "2", "\(lineage.stdout)")
        #expect(byFile["\(dir)/data/in-1.txt"]?[7] == "made by no recorded attempt", "\(lineage.stdout)")

        let diff = try run(["diff", "0", "1", participants, "--format", "tsv"], in: dir)
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout.contains("parameter k\t1\t2") && diff.stdout.contains("read \(dir)/data/in-1.txt"), "\(diff.stdout)")
        #expect(diff.stdout.contains("wrote \(dir)/mid-2.txt\t(not written)\t"), "\(diff.stdout)")
    }
}
