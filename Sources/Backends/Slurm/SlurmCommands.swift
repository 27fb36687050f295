import ClowdrErrors
import Foundation
import Subprocess

/// Runs Slurm's commands (sbatch, squeue, sacct, scancel, scontrol) as child processes, with bounded exponential
/// backoff on the failures that pass (slurmctld unreachable or busy, a socket timeout): a scheduler fault is retried,
/// then reported, never lost. The `bin` folder may be given (a cluster's own install); else the PATH.
public struct SlurmCommands: Sendable {
    /// What one command printed.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var seconds: Double
    }

    public var bin: String?
    /// Tries per command (the first included), and the first pause between them (doubled each time, 30 s at most).
    public var attempts = 6
    public var firstPause = 1.0

    public init(bin: String? = nil) { self.bin = bin }

    /// Runs `command ARGS` once.
    public func once(_ command: String, _ arguments: [String]) throws -> Output {
        // Executed straight when found (not through `env`: one exec fewer for every sbatch, squeue and sacct);
        // else `env` says what is missing.
        let path = bin.map { $0 + "/" + command } ?? Subprocess.onPath(command)
        // An array's element list in full (`A_[3,9,27,...]`): Slurm cuts it at 64 characters otherwise, and the
        // elements past the cut would never get their final word.
        var environment = ProcessInfo.processInfo.environment
        environment["SLURM_BITSTR_LEN"] = "0"
        // Times as seconds since the epoch (sacct's End): no time zone to guess.
        environment["SLURM_TIME_FORMAT"] = "%s"
        do {
            let o = try Subprocess.run(path ?? "/usr/bin/env", path == nil ? [command] + arguments : arguments, environment: environment)
            return Output(status: o.status, stdout: o.standardOutput, stderr: o.standardError, seconds: o.seconds)
        } catch {
            throw BackendError(
                "cannot run \(command): \(error); is Slurm installed here (or give its bin folder)?", code: "slurm.not_found", usage: true)
        }
    }

    /// Whether a failed command may succeed if tried again (the controller or its database is away or busy).
    public static func isTransient(_ o: Output) -> Bool {
        let text = o.stderr.lowercased()
        return [
            "unable to contact slurm controller", "socket timed out", "connection refused", "slurm_receive_msg", "resource temporarily unavailable",
            "slurmctld is not responding", "communications connection failure", "zero bytes were transmitted", "transient", "try again",
            "slurmdbd", "connection timed out",
        ].contains { text.contains($0) }
    }

    /// Runs `command ARGS` until it succeeds, retrying transient failures with backoff (`beforeRetry` runs before
    /// each retry and may end the retries with an answer: how sbatch avoids submitting twice). Returns the last
    /// output, successful or not.
    public func run(_ command: String, _ arguments: [String], beforeRetry: (() throws -> Output?)? = nil) throws -> Output {
        var pause = firstPause
        var last = try once(command, arguments)
        for _ in 1..<max(1, attempts) {
            guard last.status != 0, Self.isTransient(last) else { return last }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 30)
            if let answer = try beforeRetry?() { return answer }
            last = try once(command, arguments)
        }
        return last
    }
}
