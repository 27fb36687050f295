import EventLog
import Foundation
import Runner
import TestSupport
import Testing

@testable import Backends

/// A scheduler whose every attempt loses its host (AWS Batch's "Host EC2 (instance ...) terminated." on a reclaimed
/// spot instance, which moto cannot produce): the controller's automatic retries, driven in-process.
final class ReclaimingScheduler: Backend, @unchecked Sendable {
    let name = "awsbatch"
    let reclaimRetries: Int
    var recordsThroughSegments: Bool { false }
    var pollPolicy: PollPolicy {
        var p = PollPolicy()
        (p.first, p.steady, p.segmentGrace, p.accountingPatience) = (0.01, 0.02, 0, 0)
        return p
    }
    private let lock = NSLock()
    private(set) var submitted: [String] = []

    init(retries: Int) { reclaimRetries = retries }

    func submit(_ batch: SubmissionBatch, accepted: (Range<Int>, [String]) throws -> Void) throws {
        let ids = batch.attempts.map { "job-\($0.task)-\($0.attempt)" }
        lock.withLock { submitted += ids }
        try accepted(0..<ids.count, ids)
    }
    func queue() throws -> [String: QueueState] { [:] }
    func accounting(_ ids: [String]) throws -> [String: FinalState]? {
        Dictionary(
            uniqueKeysWithValues: ids.map { ($0, FinalState(state: "FAILED: Host EC2 (instance i-0abc) terminated.", failureClass: .preempted)) })
    }
    func cancel(_ ids: [String]) throws {}
}

@Suite("reclaimed hosts: automatic new attempts")
struct ReclaimRetryTests {
    @Test("an attempt whose spot host was reclaimed gets a new, visible attempt, up to the configured count per task, then is failed")
    func retriedUpToCount() throws {
        let dir = try TestSupport.temporaryDirectory("reclaim")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"true [K]","inputs":[{"id":"k","name":"k","type":"Number","value-key":"[K]"}]}"#
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"k":[1,2]}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        var request = RunRequest(
            descriptorPath: dir + "/d.json", invocationPath: dir + "/i.json", provdir: dir + "/prov",
            options: RunOptions(jobs: 1, workingDirectory: dir))
        request.sweeps = ["k"]
        let recorded = try Runs.record(request, backend: "awsbatch")
        let (layout, log, tasks) = (recorded.layout, recorded.log, recorded.tasks)
        let scheduler = ReclaimingScheduler(retries: 2)
        let controller = Controller(layout: layout, log: log, backend: scheduler)
        try controller.submit(
            tasks.map { AttemptPlan(task: $0.id, attempt: 1, rendered: $0.rendered) }, resources: { _ in ["mem": "512"] },
            how: .init(groupBy: 1, throttle: 0, workdir: dir, sampleInterval: 1))
        let results = try controller.follow(cancel: CancellationFlag())
        #expect(scheduler.submitted.sorted() == ["job-0-1", "job-0-2", "job-0-3", "job-1-1", "job-1-2", "job-1-3"])
        #expect(results.count == 6 && results.values.allSatisfy { $0 == .failed })
        let state = try log.replay()
        for task in ["0", "1"] {
            let attempts = try #require(state.tasks[task]?.attempts)
            #expect(attempts.map(\.attempt) == [1, 2, 3], "each retry a visible attempt")
            #expect(attempts.allSatisfy { $0.failureReason?.contains("preempted by the scheduler") == true }, "\(attempts.map(\.failureReason))")
        }
        var asked = 0
        try log.forEachEvent(lifecycleOnly: true) { e in
            if case .taskSubmitted(let p)? = try? e.decoded().body, p.resources?["mem"] == "512" { asked += 1 }
        }
        #expect(asked == 6, "retries keep the resources they were asked with")
    }
}
