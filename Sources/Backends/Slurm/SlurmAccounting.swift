import EventLog
import Foundation

/// Reading what Slurm says of finished jobs: sacct's rows, its time and size formats, the messages slurmstepd
/// writes into a job's output, and the one failure vocabulary they map to.
public enum SlurmAccounting {
    /// `sacct -n -P -o` fields, in this order.
    /// End is read as seconds since the epoch (`SlurmCommands` sets SLURM_TIME_FORMAT=%s).
    static let fields = "JobID,State,ExitCode,Elapsed,TotalCPU,MaxRSS,ReqMem,Timelimit,End"

    /// Final states: anything else (PENDING, RUNNING, REQUEUED, COMPLETING, SUSPENDED...) is not a final word.
    static let finalStates: Set<String> = [
        "COMPLETED", "FAILED", "OUT_OF_MEMORY", "TIMEOUT", "CANCELLED", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "UNKNOWN",
    ]

    /// The final word on each `A_T` job of sacct's output (the job row, with MaxRSS and TotalCPU from its steps).
    static func parse(_ text: String) -> [String: FinalState] {
        var jobs: [String: FinalState] = [:]
        var stepRSS: [String: Int64] = [:]
        var batchSteps: Set<String> = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 8 else { continue }
            let id = f[0]
            if let dot = id.firstIndex(of: ".") {
                // A step (`12_3.batch`, `.extern`): its peak memory counts for the job.
                let state = String(f[1].split(separator: " ").first ?? "")
                if id.hasSuffix(".batch"), finalStates.contains(state) { batchSteps.insert(String(id[..<dot])) }
                if let rss = size(f[5]) { stepRSS[String(id[..<dot]), default: 0] = max(stepRSS[String(id[..<dot])] ?? 0, rss) }
                continue
            }
            let state = String(f[1].split(separator: " ").first ?? "")  // "CANCELLED by 0"
            guard finalStates.contains(state) else { continue }
            let (code, signal) = exitCode(f[2])
            var final = FinalState(
                state: state, failureClass: classify(state: state, exitCode: code, signal: signal), exitCode: code, signal: signal,
                peakRSS: size(f[5]),
                wallTime: duration(f[3]), cpuTime: duration(f[4]), requestedMemory: size(f[6]), timeLimit: duration(f[7]))
            final.endedAt = f.count > 8 ? endTime(f[8]) : nil
            // Elements never split off their array (cancelled while pending) share one record: `A_[2-3,7%2]`.
            for element in elements(id) { jobs[element] = final }
        }
        for (id, rss) in stepRSS where jobs[id] != nil { jobs[id]!.peakRSS = max(jobs[id]!.peakRSS ?? 0, rss) }
        // A job that ran but whose batch step has not ended yet: slurmdbd has the job's end, not yet its usage (peak).
        for (id, final) in jobs where (final.wallTime ?? 0) > 0 && !batchSteps.contains(id) { jobs[id] = unsettled(final) }
        return jobs
    }

    /// The final word on each element `A_T` of `ids`, from sacct's parsed records, refined by its Slurm output.
    static func finals(of ids: [String], in all: [String: FinalState], output: (String) -> String) -> [String: FinalState] {
        var answer: [String: FinalState] = [:]
        let arrays = Set(all.keys.map { $0.split(separator: "_").first.map(String.init) ?? $0 })
        for id in ids {
            if let f = all[id] {
                answer[id] = refine(f, output: output(id))
            } else if let array = id.split(separator: "_").first, array.count < id.count, let rest = all[String(array)] {
                // Elements that never started are never split off their array: sacct lists them under the array's
                // own id (`A`, not `A_T`), which says how the rest of the array ended (cancelled while pending).
                // A record of `A` that ran is an element not yet listed under its own id (a one-element array read
                // early): not settled, so asked again.
                answer[id] = (rest.wallTime ?? 0) > 0 ? unsettled(refine(rest, output: output(id))) : rest
            } else if let array = id.split(separator: "_").first, arrays.contains(String(array)) {
                // sacct knows the array but not this element: slurmdbd keeps no record of some elements cancelled
                // before they started (Slurm 22.05: the array's record lists only part of them). Asked again until
                // the controller's patience ends (a record may lag), then recorded as such: never success.
                answer[id] = unsettled(FinalState(state: FinalState.noRecord, failureClass: .unknown))
            }
        }
        return answer
    }

    /// `final`, marked as not the scheduler's settled word yet.
    static func unsettled(_ final: FinalState) -> FinalState {
        var f = final
        f.settled = false
        return f
    }

    /// The element ids a sacct JobID stands for: itself, or each element of a range `A_[2-3,7%2]`.
    static func elements(_ id: String) -> [String] {
        guard let open = id.firstIndex(of: "["), id.hasSuffix("]"), id[..<open].hasSuffix("_") else { return [id] }
        let array = id[..<id.index(before: open)]
        var body = id[id.index(after: open)..<id.index(before: id.endIndex)]
        if let percent = body.firstIndex(of: "%") { body = body[..<percent] }
        var out: [String] = []
        for part in body.split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            guard let low = bounds.first, let high = bounds.last, low <= high, high - low < 1_000_000 else { continue }
            for i in low...high { out.append("\(array)_\(i)") }
        }
        return out
    }

    /// The failure class of a final state. FAILED and CANCELLED may be refined by the job's output (see `refine`).
    static func classify(state: String, exitCode: Int32?, signal: Int32?) -> FailureClass {
        switch state {
        case "OUT_OF_MEMORY": .oom
        case "TIMEOUT", "DEADLINE": .timeout
        case "NODE_FAIL", "BOOT_FAIL": .nodeFail
        case "PREEMPTED": .preempted
        case "CANCELLED": .cancelled
        case "UNKNOWN": .unknown
        default: .appError
        }
    }

    /// What slurmstepd wrote into the job's output about how it ended: a memory or time kill (which sacct shows as
    /// FAILED 0:9 or CANCELLED where no cgroup reports it), or a cancellation.
    static func refine(_ final: FinalState, output: String) -> FinalState {
        var f = final
        if output.contains("exceeded memory limit") || output.contains("oom-kill") || output.contains("Out Of Memory") {
            f.failureClass = .oom
            // "StepId=2.batch exceeded memory limit (224903168 > 52428800), being killed": the peak and the limit.
            if let r = output.range(of: #"exceeded memory limit \(([0-9]+) > ([0-9]+)\)"#, options: .regularExpression) {
                let numbers = output[r].split(whereSeparator: { !$0.isNumber }).compactMap { Int64($0) }
                if numbers.count == 2 {
                    f.peakRSS = max(f.peakRSS ?? 0, numbers[0])
                    f.requestedMemory = f.requestedMemory ?? numbers[1]
                }
            }
        } else if output.contains("DUE TO TIME LIMIT") {
            f.failureClass = .timeout
        } else if output.contains("DUE TO PREEMPTION") {
            f.failureClass = .preempted
        } else if output.contains("DUE TO NODE FAILURE") {
            f.failureClass = .nodeFail
        } else if f.signal == 9, f.state == "FAILED", let peak = f.peakRSS, let limit = f.requestedMemory, peak >= limit {
            // Killed by SIGKILL at or above its memory request, before slurmstepd's message reached the output
            // (or where it writes none): the memory limit's kill.
            f.failureClass = .oom
        }
        return f
    }

    /// The final word from a job's output alone, where Slurm keeps no accounting: nil when it says nothing.
    static func fromOutput(_ output: String) -> FinalState? {
        let f = refine(FinalState(state: "UNKNOWN", failureClass: .unknown), output: output)
        if f.failureClass != .unknown { return f }
        if output.contains("CANCELLED AT") { return FinalState(state: "CANCELLED", failureClass: .cancelled) }
        return nil
    }

    /// `1:0` (code:signal) as an exit code and a signal.
    static func exitCode(_ s: String) -> (Int32?, Int32?) {
        let p = s.split(separator: ":").map { Int32($0) }
        guard p.count == 2, let code = p[0], let signal = p[1] else { return (nil, nil) }
        return signal != 0 ? (code == 0 ? nil : code, signal) : (code, nil)
    }

    /// sacct's sizes: `219632K`, `50M`, `1.50G`, `1024Mc` (per CPU), bytes when no unit; nil when empty.
    static func size(_ s: String) -> Int64? {
        var t = s.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("n") || t.hasSuffix("c") { t.removeLast() }
        guard !t.isEmpty else { return nil }
        let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        if let last = t.last, let unit = units[last], let v = Double(t.dropLast()) { return Int64(v * unit) }
        return Double(t).map { Int64($0) }
    }

    /// Slurm's durations: `[D-]HH:MM:SS`, `MM:SS.mmm`, `MM:SS`, `UNLIMITED` (nil), as seconds.
    /// sacct's End as seconds since the epoch (SLURM_TIME_FORMAT=%s); nil for `Unknown`, `None` or another form.
    static func endTime(_ s: String) -> Timestamp? {
        guard let seconds = Int64(s.trimmingCharacters(in: .whitespaces)), seconds > 0 else { return nil }
        return Timestamp(microseconds: seconds * 1_000_000)
    }

    static func duration(_ s: String) -> Double? {
        let t = s.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty, t != "UNLIMITED", t != "Partition_Limit" else { return nil }
        var days = 0.0
        var rest = Substring(t)
        if let dash = t.firstIndex(of: "-") {
            days = Double(t[..<dash]) ?? 0
            rest = t[t.index(after: dash)...]
        }
        let parts = rest.split(separator: ":").compactMap { Double($0) }
        guard !parts.isEmpty else { return nil }
        let seconds = parts.reduce(0) { $0 * 60 + $1 }
        return days * 86400 + seconds
    }
}
