import Backends
import Foundation
import Runner
import TestSupport
import Testing

/// What differs between backends is said by each backend's traits, and asked nowhere else (issue 36).
@Suite("Backend traits")
struct BackendTraitsTests {
    @Test("each backend's traits say how its attempts live and which flags it takes")
    func traits() {
        let local = BackendKind.local.traits
        #expect(!local.attemptsOutliveController && !local.takesClusterFlags && !local.usesAWS && !local.runsInsideImage)
        let slurm = BackendKind.slurm.traits
        #expect(slurm.attemptsOutliveController && slurm.takesClusterFlags && !slurm.usesAWS && !slurm.runsInsideImage)
        let batch = BackendKind.awsbatch.traits
        #expect(batch.attemptsOutliveController && batch.takesClusterFlags && batch.usesAWS && batch.runsInsideImage)
        #expect(BackendKind.listed { $0.takesClusterFlags } == "slurm or awsbatch")
        #expect(BackendKind.listed { $0.usesAWS } == "awsbatch")
        #expect(BackendKind.standard == .local)
    }

    @Test("nothing outside a backend's folder and the registration compares backends: each difference is a trait")
    func noComparisons() throws {
        let root = TestSupport.repositoryRoot + "/Sources"
        let allowed = ["Backends/Local/", "Backends/Slurm/", "Backends/AWSBatch/", "Backends/BackendTraits.swift"]
        // Task files written before `submitted` existed are read by their backend's name, once, in TaskFile.
        let exceptions = ["Runner/TaskFile.swift": 1]
        let comparison = try Regex(#"(==|!=)\s*(BackendKind)?\.(local|slurm|awsbatch)\b|(==|!=)\s*"(local|slurm|awsbatch)""#)
        var found: [String] = []
        let files = FileManager.default.enumerator(atPath: root)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        for file in files where !allowed.contains(where: { file.hasPrefix($0) }) {
            let lines = try String(contentsOfFile: root + "/" + file, encoding: .utf8).split(separator: "\n").filter { $0.contains(comparison) }
            if lines.count > exceptions[file, default: 0] { found += lines.map { "\(file): \($0.trimmingCharacters(in: .whitespaces))" } }
        }
        #expect(found.isEmpty, "make these traits of the backend (BackendTraits):\n\(found.joined(separator: "\n"))")
    }

    @Test("a task file says whether a controller submitted its attempt; one written by hand or before `submitted` existed is read as it meant")
    func submittedInTaskFiles() throws {
        let dir = try TestSupport.temporaryDirectory("taskfile")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func read(_ text: String) throws -> TaskFile {
            try text.write(toFile: dir + "/t.json", atomically: true, encoding: .utf8)
            return try TaskFile(path: dir + "/t.json")
        }
        #expect(try !read(#"{"experiment": "/e", "task": "1", "attempt": 1}"#).submitted, "by hand: the worker records it")
        #expect(try !read(#"{"experiment": "/e", "task": "1", "attempt": 1, "backend": "local"}"#).submitted)
        #expect(try read(#"{"experiment": "/e", "task": "1", "attempt": 1, "backend": "slurm"}"#).submitted, "a controller's, before `submitted`")
        #expect(try !read(#"{"experiment": "/e", "task": "1", "attempt": 1, "backend": "slurm", "submitted": false}"#).submitted)
        var t = TaskFile(experiment: "/e", task: "1", attempt: 1, backend: "awsbatch")
        t.submitted = true
        #expect(try read(t.json()).submitted && t.json().contains(#""submitted": true"#))
    }
}
