import Foundation
import TestSupport
import Testing

/// The README's set-up on a stock machine: the system's Python first on PATH (Debian marks it externally managed, so
/// `pip install` into it fails). Building, the demo and `make dist` install nothing through pip; the tests' Python
/// tools go into a virtual environment of the project's.
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

    @Test("make demo and make dist would run no pip: what they install comes from apt")
    func buildTargetsUseNoPip() throws {
        let out = try Self.make(["-n", "demo", "dist"])
        #expect(out.status == 0, "\(out.stderr)")
        let pip = out.stdout.split(separator: "\n").filter { $0.contains("pip") }
        #expect(pip.isEmpty, "make -n demo dist: \(pip)")
        #expect(out.stdout.contains("swift build"))
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
