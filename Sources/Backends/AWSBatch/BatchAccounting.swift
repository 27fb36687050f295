import AWS
import EventLog

/// AWS Batch's final word on a job, in the vocabulary every backend shares. The class is read from Batch's reasons,
/// not the exit code: a container killed for memory reports 137, 0 or 2, and only "OutOfMemoryError: Container
/// killed due to memory usage" says why.
enum BatchAccounting {
    /// Reasons that mean the image could not be fetched or started: nothing the tool did.
    static let imageFailures = ["CannotPullContainerError", "CannotInspectContainerError", "CannotCreateContainerError", "CannotStartContainerError"]

    static func final(_ job: BatchJob) -> FinalState {
        let said = [job.containerReason, job.statusReason].filter { !$0.isEmpty }.joined(separator: "; ")
        var f = FinalState(state: job.status, failureClass: .appError, exitCode: job.exitCode)
        if let start = job.startedAt, let stop = job.stoppedAt, stop >= start { f.wallTime = Double(stop - start) / 1000 }
        f.endedAt = job.stoppedAt.map { Timestamp(microseconds: $0 * 1000) }
        f.requestedMemory = job.memoryMiB.map { $0 << 20 }
        if job.status == "SUCCEEDED" {
            f.failureClass = .unknown  // recorded only when its worker wrote no exit: not taken for success
            return f
        }
        guard !said.isEmpty || job.exitCode != nil else {
            // Nothing says what happened (moto, for one, fails a job whose image it cannot pull so): not the tool's
            // doing as far as anyone knows.
            f.state = "\(job.status), with no reason or exit code"
            f.failureClass = .unknown
            return f
        }
        if !said.isEmpty { f.state = "\(job.status): \(said)" }
        f.failureClass = failureClass(said, status: job.status)
        if f.failureClass == .oom { f.signal = job.exitCode == 137 ? 9 : nil }
        return f
    }

    static func failureClass(_ said: String, status: String) -> FailureClass {
        if said.contains("OutOfMemoryError") { return .oom }
        if said.contains("Host EC2") && said.contains("terminated") { return .preempted }  // a spot instance reclaimed
        if said.contains("Job attempt duration exceeded timeout") { return .timeout }
        if imageFailures.contains(where: said.contains) { return .unschedulable }
        if said.contains("MISCONFIGURATION") || said.contains("ACTION_REQUIRED") { return .unschedulable }
        if said.contains("clowdr: cancelled") || said.contains("Terminated by user") || said.contains("cancelled by user") { return .cancelled }
        return .appError
    }

    /// A RUNNABLE job that can never start as asked: Batch says so in its status reason.
    static func isStuck(_ statusReason: String) -> Bool {
        statusReason.hasPrefix("MISCONFIGURATION") || statusReason.hasPrefix("ACTION_REQUIRED")
    }
}
