import ClowdrErrors
import Foundation

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
        let p = Process()
        if let path = bin.map({ $0 + "/" + command }) ?? Self.onPath(command) {
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = arguments
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")  // says what is missing
            p.arguments = [command] + arguments
        }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        // An array's element list in full (`A_[3,9,27,...]`): Slurm cuts it at 64 characters otherwise, and the
        // elements past the cut would never get their final word.
        var environment = ProcessInfo.processInfo.environment
        environment["SLURM_BITSTR_LEN"] = "0"
        p.environment = environment
        // Told at once when the child ends (waitUntilExit looks only every 50 ms: 5 times sbatch's own time here).
        let ended = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in ended.signal() }
        let started = DispatchTime.now().uptimeNanoseconds
        do { try p.run() } catch {
            throw BackendError(
                "cannot run \(command): \(error); is Slurm installed here (or give its bin folder)?", code: "slurm.not_found", usage: true)
        }
        // Both pipes drained at once, so neither fills up.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        ended.wait()
        return Output(
            status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self),
            seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }

    /// Where `command` is on the PATH (executed straight, not through `env`: one exec fewer for every sbatch,
    /// squeue and sacct); nil when it is not there.
    static func onPath(_ command: String) -> String? {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let path = "\(folder)/\(command)"
            if access(path, X_OK) == 0 { return path }
        }
        return nil
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
