import Foundation
import TestSupport
import Testing

/// The README's set-up on a stock machine: the system's Python first on PATH (Debian marks it externally managed, so
/// `pip install` into it fails). Building and `make dist` install nothing through pip; the Python tools of the demo
/// (the RO-Crate and BIDS checkers) and of the tests go into virtual environments of the project's.
@Suite("set-up with only the system's folders on PATH")
struct SetupTests {
    /// The system's folders, and the folder of the Swift the tests were built with (the one thing the README asks for).
    static var systemPath: String {
        let swift = (try? TestSupport.run("/bin/sh", ["-c", "command -v swift"]))?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let folders = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        return (folders + (swift.isEmpty ? [] : [URL(fileURLWithPath: swift).deletingLastPathComponent().path])).joined(separator: ":")
    }

    static func make(_ arguments: [String]) throws -> TestSupport.Output {
        try TestSupport.run(
            "/usr/bin/env", ["-i", "PATH=\(systemPath)", "HOME=\(NSHomeDirectory())", "make", "-C", TestSupport.repositoryRoot] + arguments)
    }

    @Test("make dist would run no pip, make demo only a virtual environment's: what reaches the system comes from apt")
    func buildTargetsUseNoPip() throws {
        let dist = try Self.make(["-n", "dist"])
        #expect(dist.status == 0, "\(dist.stderr)")
        #expect(!dist.stdout.split(separator: "\n").contains { $0.contains("pip") }, "make -n dist: \(dist.stdout)")
        #expect(dist.stdout.contains("swift build"))
        let demo = try Self.make(["-n", "demo"])
        #expect(demo.status == 0, "\(demo.stderr)")
        // pip appears only as a project venv's own (.build-*/bin/pip), after that venv is made.
        let pip = demo.stdout.split(separator: "\n").filter { $0.contains("pip") }
        #expect(pip.allSatisfy { $0.contains("python3 -m venv .build-") && $0.contains("/bin/pip install") }, "make -n demo: \(pip)")
    }

    @Test("make deps succeeds with the system's Python first on PATH, and touches no Python")
    func buildDependencies() throws {
        let python = try TestSupport.run("/usr/bin/env", ["-i", "PATH=\(Self.systemPath)", "python3", "-c", "import sys; print(sys.executable)"])
        #expect(python.stdout.hasPrefix("/usr/bin/python3"), "the system's Python is first: \(python.stdout)")
        let out = try Self.make(["deps"])
        #expect(out.status == 0, "\(out.stdout) \(out.stderr)")
        #expect(!(out.stdout + out.stderr).contains("externally-managed"))
    }

    @Test(
        "the tests' Python tools install into a project venv with the system's Python (no externally-managed-environment)",
        .enabled(if: FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages"), "needs Debian's Python"))
    func testToolsInVenv() throws {
        let dir = try TestSupport.temporaryDirectory("venv")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try Self.make(["test-deps", "VENV=\(dir)/venv"])
        #expect(out.status == 0, "\(out.stdout) \(out.stderr)")
        #expect(out.stdout.contains("installing jsonschema and prov into \(dir)/venv"))
        let check = try TestSupport.run(dir + "/venv/bin/python", ["-c", "import jsonschema, prov, sys; print(sys.base_prefix)"])
        #expect(check.status == 0 && check.stdout.hasPrefix("/usr"), "\(check.stdout) \(check.stderr)")
        // A second time there is nothing to do.
        let again = try Self.make(["test-deps", "VENV=\(dir)/venv"])
        #expect(again.status == 0 && !again.stdout.contains("installing"), "\(again.stdout)")
    }

    @Test("make says what is missing when Swift is too old or absent")
    func swiftMissing() throws {
        let out = try TestSupport.run(
            "/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", "make", "-C", TestSupport.repositoryRoot, "swift-check", "SWIFT=/nonexistent/swift"])
        #expect(out.status != 0)
        #expect(out.stderr.contains("clowdr needs Swift 6.1 or newer on PATH (found: none)"), "\(out.stderr)")
    }
}
