public import Boutiques
import Foundation

/// How attempts run on this machine.
public struct RunOptions: Sendable {
    /// Attempts at once.
    public var jobs: Int
    /// Seconds between samples after the first `denseWindow` seconds (which are sampled every `denseInterval`).
    public var sampleInterval: Double = 1
    public var denseInterval: Double = 0.1
    public var denseWindow: Double = 2
    /// Folder tasks run in: relative paths in invocations and outputs resolve against it.
    public var workingDirectory: String
    /// Run the descriptor's container with this engine and these options (nil: bare metal).
    public var container: ContainerOptions?
    /// Seconds between SIGTERM and SIGKILL when attempts are stopped.
    public var graceSeconds: Double = 5
    /// Hand back the pages of the process's code after each sample (a worker alone in a job whose memory limit it
    /// shares with the tool: `clowdr task`), so that the scheduler's figures are the tool's but for a few MB.
    public var releaseCodePages = false
    /// Local folders whose files are moved elsewhere once the attempt ends (folder to final place): outputs found
    /// under one are recorded at their final place (`TaskFile.outputPlaces`).
    public var outputPlaces: [String: String] = [:]
    /// Observe the files each attempt's processes use (clowdr-shim's tracing: docs/provenance.md). On by default;
    /// where it cannot work the attempt runs untraced and its `task_files` says why.
    public var traceFiles = true

    /// Where a file at `path` ends up: under the longest folder of `outputPlaces` that holds it, else `path`.
    public func finalPlace(of path: String) -> String {
        let folder = outputPlaces.keys.filter { path == $0 || path.hasPrefix($0 + "/") }.max { $0.count < $1.count }
        guard let folder, let place = outputPlaces[folder] else { return path }
        let rest = path.dropFirst(folder.count).drop { $0 == "/" }
        return rest.isEmpty ? place : (place.hasSuffix("/") ? place : place + "/") + rest
    }

    public init(jobs: Int, workingDirectory: String) {
        self.jobs = max(1, jobs)
        self.workingDirectory = workingDirectory
    }
}
