import Foundation

/// Helpers shared by the test targets: temporary folders, the built binaries, child processes.
public enum TestSupport {
    /// A new, empty temporary folder (removed by the OS's tmp cleaning; tests name what they leave).
    public static func temporaryDirectory(_ name: String = "test") throws -> String {
        let dir = NSTemporaryDirectory() + "clowdr-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The folder the test bundle and the package's executables are built into.
    public static var buildDirectory: String {
        // swift test runs `.build/<triple>/debug/<Package>PackageTests.xctest`; executables sit beside it.
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            if url.pathExtension == "xctest" { return url.deletingLastPathComponent().path }
            url.deleteLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath + "/.build/debug"
    }

    /// The path of a built executable of this package (`clowdr`, `clowdr-bench`); nil when it was not built.
    public static func binary(_ name: String) -> String? {
        let path = buildDirectory + "/" + name
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// The repository's root (for schema files and fixtures).
    public static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// The Python of the project's own virtual environment (`.build-venv`, which `make test-deps` makes with
    /// jsonschema and prov): the tests' Python checkers run in it, never in the system's Python. Nil when absent.
    public static let python: String? = {
        let path = repositoryRoot + "/.build-venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    /// Whether the project's Python has `module` (e.g. `jsonschema`, `prov`).
    public static func pythonHas(_ module: String) -> Bool {
        guard let python else { return false }
        return (try? run(python, ["-c", "import \(module)"]))?.status == 0
    }

    /// Whether podman has the container tests' busybox image (scripts/containers/make-test-image.sh, run by
    /// `make test`, builds it).
    public static var hasBusyboxImage: Bool {
        let conf = repositoryRoot + "/scripts/containers/containers.conf"
        return (try? run("/bin/sh", ["-c", "CONTAINERS_CONF=\(conf) podman image exists localhost/clowdr-busybox:test"]))?.status == 0
    }

    /// `../shared/fixtures`, when present beside the repository.
    public static var sharedFixtures: String? {
        let path = URL(fileURLWithPath: repositoryRoot).deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// What a finished process said.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs a program to completion and captures its output.
    public static func run(_ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        // Read both pipes concurrently so neither fills up and blocks the child.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }
}
