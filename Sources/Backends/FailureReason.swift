import EventLog

extension FinalState {
    /// A sentence a person can act on: what the scheduler (`scheduler`: "Slurm", "AWS Batch", "the local pool")
    /// did to the task's attempt and what to change. One wording for every backend.
    public func reason(task: String, labels: String, scheduler: String) -> String {
        let who = labels.isEmpty ? "task \(task)" : "task \(task) (\(labels))"
        func mb(_ b: Int64?) -> String { b.map(Units.bytes) ?? "?" }
        switch failureClass {
        case .oom:
            let given = requestedMemory.map { " its \(mb($0)) memory request" } ?? " its memory request"
            return "\(who): killed for exceeding\(given), peak \(mb(peakRSS)); rerun with --clusterargs mem:auto"
        case .timeout:
            let limit = timeLimit.map { " of \(Int($0)) s" } ?? ""
            return "\(who): killed at its time limit\(limit); rerun with --clusterargs time:auto"
        case .nodeFail: return "\(who): its node failed (\(state)); rerun failed runs it elsewhere"
        case .preempted: return "\(who): preempted by the scheduler; rerun failed runs it again"
        case .unschedulable:
            if BatchAccounting.imageFailures.contains(where: state.contains) {
                return "\(who): its image cannot be pulled or started (\(state)); check --image and that the registry lets the hosts pull it"
            }
            let place = scheduler == "Slurm" ? "partition" : "compute environment"
            return "\(who): can never start as asked (\(state)); change its resources or the \(place)"
        case .cancelled: return state == FinalState.notStarted.state ? "\(who): cancelled before it started" : "\(who): cancelled (\(state))"
        case .unknown:
            if state == FinalState.noRecord {
                return
                    "\(who): \(scheduler) no longer holds it and its accounting has no record of it (as for an array element cancelled before it started); its worker recorded no start or exit, so it is not taken for success: rerun failed runs it again"
            }
            if state == FinalState.shimKilled {
                return
                    "\(who): clowdr-shim, the process that ran its command, was killed before the command ended; the command's processes were stopped and its figures are its samples'; rerun failed runs it again"
            }
            return "\(who): \(scheduler) says \(state); its worker recorded no exit, so it is not taken for success"
        case .appError:
            let how = exitCode.map { "exit \($0)" } ?? signal.map { "signal \($0)" } ?? state
            return "\(who): ended \(how) (\(state)) without its worker's exit record; see its \(scheduler) output"
        }
    }
}
