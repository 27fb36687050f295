public import Foundation

/// A command run to its end, with what it printed: Slurm's commands, a container engine's builds and pushes, a
/// profile's `credential_process`. Both streams are drained at once (neither pipe fills up and stalls the command),
/// and the end is noticed when it happens (`Process.waitUntilExit` looks every 50 ms: five times what `sbatch` takes).
public enum Subprocess {
    /// What one command printed, and how long it took.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: Data
        public var stderr: Data
        public var seconds: Double

        public var standardOutput: String { String(decoding: stdout, as: UTF8.self) }
        public var standardError: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Where one of the command's output streams goes.
    public enum Stream: Sendable {
        /// Into `Output`.
        case collect
        /// To `/dev/null`.
        case discard
        /// Where this process's own stream goes (a person may need to read it, as with a credential helper's prompts).
        case inherit
    }

    /// Runs `executable ARGS` to its end. `environment`: the whole environment of the command (this process's when
    /// nil). Standard input is `/dev/null`, or this process's own with `inheritingInput` (a helper that may ask the
    /// person something). Throws only when the command cannot be started.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, inheritingInput: Bool = false,
        stdout: Stream = .collect, stderr: Stream = .collect
    ) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        if !inheritingInput { p.standardInput = FileHandle.nullDevice }
        let out = pipe(for: stdout)
        let err = pipe(for: stderr)
        if let out { p.standardOutput = out } else if stdout == .discard { p.standardOutput = FileHandle.nullDevice }
        if let err { p.standardError = err } else if stderr == .discard { p.standardError = FileHandle.nullDevice }
        let ended = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in ended.signal() }
        let started = DispatchTime.now().uptimeNanoseconds
        try p.run()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        if let err {
            group.enter()
            DispatchQueue.global().async {
                errData = err.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
        }
        let outData = out?.fileHandleForReading.readDataToEndOfFile() ?? Data()
        group.wait()
        ended.wait()
        return Output(
            status: p.terminationStatus, stdout: outData, stderr: errData, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }

    static func pipe(for stream: Stream) -> Pipe? { stream == .collect ? Pipe() : nil }

    /// Where `command` is on the PATH (to be executed straight, not through `env`: one exec fewer); nil when it is
    /// not there.
    public static func onPath(_ command: String) -> String? {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let path = "\(folder)/\(command)"
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }
}
