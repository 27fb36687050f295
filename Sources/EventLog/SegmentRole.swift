import Foundation

/// Who wrote a segment, as its name says: what it may hold is checked against that before any line of it becomes
/// part of the log.
public enum SegmentRole: Sendable, Equatable {
    /// `controller-<token>.ndjson`: what a controller submitted (`task_submitted`, nothing else).
    case controller
    /// A worker's: `slurm-<A>_<a>.ndjson` and `batch-<job>_<index>.ndjson` name the array element it ran (its
    /// native id, `:` written `_`); any other name (`<host>-<pid>.ndjson`) says none. A worker writes the events of
    /// the attempts it was given: started, samples, files, cancelled, exited or launch failed (and, run by hand on the local
    /// backend, its own submission).
    case worker(nativeID: String?)
    /// A segment given to `clowdr ingest` by hand (an export of another log, a demo): any type this clowdr knows.
    case imported

    /// The role of the segment at `path`; `imported` for a name no clowdr writer gives when `byHand`.
    public static func of(path: String, byHand: Bool = false) -> SegmentRole {
        let name = (path as NSString).lastPathComponent
        if name.hasPrefix(ExperimentLayout.controllerSegmentPrefix) { return .controller }
        for prefix in ["slurm-", "batch-"] where name.hasPrefix(prefix) && name.hasSuffix(".ndjson") {
            return .worker(nativeID: String(name.dropFirst(prefix.count).dropLast(".ndjson".count)))
        }
        return byHand ? .imported : .worker(nativeID: nil)
    }

    /// As `segment_refused` names it.
    public var name: String {
        switch self {
        case .controller: "controller"
        case .worker: "worker"
        case .imported: "imported"
        }
    }

    var nativeID: String? { if case .worker(let id) = self { id } else { nil } }

    /// A native id as a segment's name writes it: AWS Batch's `JOB:INDEX` as `JOB_INDEX`.
    static func segmentName(_ nativeID: String) -> String {
        nativeID.utf8.contains(UInt8(ascii: ":")) ? String(nativeID.map { $0 == ":" ? "_" : $0 }) : nativeID
    }

    /// Whether the segment at `path`, once ingested to its sealed end, can be removed: a Slurm element's worker
    /// writes the only copy of its events on the shared filesystem, which the log then holds. An AWS Batch segment
    /// here is a copy of its S3 object (fetched again if removed); a controller's segment or a worker run by hand
    /// (`<host>-<pid>.ndjson`) is kept.
    func isOnlyCopy(_ path: String) -> Bool {
        guard case .worker(let id?) = self else { return false }
        return (path as NSString).lastPathComponent.hasPrefix("slurm-") && !id.isEmpty
    }

    /// Whether such a writer writes events of `type`.
    func writes(_ type: EventType) -> Bool {
        switch self {
        case .controller: type == .taskSubmitted
        case .worker:
            switch type {
            case .taskSubmitted, .taskStarted, .sample, .taskFiles, .imageResolved, .taskCancelled, .taskExited, .taskLaunchFailed: true
            default: false
            }
        case .imported: true
        }
    }
}
