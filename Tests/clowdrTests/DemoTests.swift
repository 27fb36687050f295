import Foundation
import TestSupport
import Testing

/// `make demo` from what a fresh clone holds: git stores no empty folder, so the demo's story (16 tasks, one failing,
/// rerun after the data arrives) must come from tracked files alone.
@Suite(
    "make demo from a fresh clone", .serialized,
    .enabled(if: TestSupport.binary("clowdr") != nil, "build clowdr first (swift build)"),
    .enabled(
        if: (try? TestSupport.run("/usr/bin/git", ["-C", TestSupport.repositoryRoot, "rev-parse", "--git-dir"]))?.status == 0,
        "needs git and the repository's history, to copy only the files a clone has"))
struct DemoTests {
    @Test("the demo over the tracked files: 16 tasks, one failed, rerun succeeds, report written")
    func freshClone() throws {
        let root = TestSupport.repositoryRoot
        let copy = try TestSupport.temporaryDirectory("demo")
        defer { try? FileManager.default.removeItem(atPath: copy) }
        // Exactly the tracked files of the demo (what a clone has): no empty folder, nothing left by earlier runs.
        let files = try TestSupport.run(
            "/usr/bin/git", ["-C", root, "ls-files", "examples/bids-demo", "scripts/demo.sh", "scripts/rocrate_check.py"]
        ).stdout
            .split(separator: "\n").map(String.init)
        #expect(files.contains("scripts/demo.sh"))
        for f in files {
            try FileManager.default.createDirectory(atPath: copy + "/" + (f as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: root + "/" + f, toPath: copy + "/" + f)
        }
        // The crate and derivatives checkers of make test-deps (.build-rocrate), when present.
        let tools = root + "/.build-rocrate"
        let out = try TestSupport.run(
            "/bin/sh", ["-c", "cd '\(copy)' && ROCRATE_VENV='\(tools)' scripts/demo.sh '\(TestSupport.binary("clowdr")!)' out/demo"])
        #expect(out.status == 0, "the demo failed:\n\(out.stdout)\n\(out.stderr)")
        #expect(out.stdout.contains("16 attempts: 15 succeeded, 1 failed"), "\(out.stdout)")
        #expect(out.stdout.contains("sub-05_ses-2_task-reaction_events.tsv is missing"), "the failure is the missing recording")
        #expect(out.stdout.contains("1 attempts: 1 succeeded"), "the rerun runs the failed task only")
        #expect(out.stdout.contains("16 tasks: 16 succeeded"))
        #expect(!out.stderr.contains("cp:") && !out.stderr.contains("No such file"), "\(out.stderr)")
        #expect(FileManager.default.fileExists(atPath: copy + "/out/demo/report.html"))
        #expect(FileManager.default.fileExists(atPath: copy + "/out/demo/derivatives/dataset_description.json"))
        #expect(out.stdout.contains("Archive:      out/demo/derivatives/code/clowdr/clowdr-"), "\(out.stdout)")
        if FileManager.default.isExecutableFile(atPath: tools + "/bin/python") {
            #expect(out.stdout.contains("roc-validator (provenance-run-crate-0.5, RECOMMENDED): 0 REQUIRED issues"), "\(out.stdout)")
            #expect(out.stdout.contains("runcrate report: read it; ro-crate-py: loaded"), "\(out.stdout)")
            #expect(out.stdout.contains("bids-validator: 0 errors"), "\(out.stdout)")
        }
    }
}
