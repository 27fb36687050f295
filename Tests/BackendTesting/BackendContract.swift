public import Backends
public import Boutiques
public import EventLog
import Foundation
import Runner
import TestSupport

/// The promises `Backend` makes (written in `Backend.swift`), checked in-process against any backend, as
/// litestream's `RunWithReplicaClient` checks every replica client: parts handed over in order and none twice, each
/// with as many native ids as attempts and no id twice; a submission whose `accepted` throws stops at that part; an
/// attempt that ended leaves the queue and does not come back; accounting answers only for ids it was asked about
/// (one it knows nothing of is absent, or not settled), and nil when the scheduler keeps none; a cancelled attempt leaves the queue. `BackendBehaviour` is the end-to-end
/// layer above it (the built clowdr on each backend).
public struct BackendContract {
    /// The backend's name (what its experiments record).
    public var name: String
    /// The backend under test, made for an experiment (its folder, its log, its descriptor).
    public var make: (ExperimentLayout, EventLog, Descriptor) throws -> any Backend
    /// How long an attempt of a command that exits at once may take from its submission to leaving the queue.
    public var patience: Double
    /// Whether the scheduler keeps accounting (false: `accounting` must answer nil).
    public var keepsAccounting: Bool
    /// Where the experiments go (removed after).
    public var folder: String

    public init(
        name: String, folder: String, patience: Double = 30, keepsAccounting: Bool = true,
        make: @escaping (ExperimentLayout, EventLog, Descriptor) throws -> any Backend
    ) {
        self.name = name
        self.folder = folder
        self.patience = patience
        self.keepsAccounting = keepsAccounting
        self.make = make
    }

    /// A promise not kept, with what was seen.
    public struct Violation: Error, CustomStringConvertible {
        public var promise: String
        public var seen: String
        public var description: String { "\(promise): \(seen)" }
    }

    /// Checks every promise; throws the first one broken.
    public func check() throws {
        try submittedInOrder()
        try stopsWhereAcceptedThrows()
        try cancelledLeaveTheQueue()
    }

    /// An experiment of `values.count` tasks running `template` (one integer input, K), on the backend under test.
    func experiment(_ name: String, _ template: String, _ values: [Int]) throws -> (backend: any Backend, batch: SubmissionBatch) {
        let dir = folder + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try
            #"{"name":"contract","tool-version":"1","description":"d","schema-version":"0.5","command-line":"\#(template)","inputs":[{"id":"k","name":"k","type":"Number","integer":true,"value-key":"[K]"}]}"#
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try "{\"k\": \(values)}".write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        var request = RunRequest(
            descriptorPath: dir + "/d.json", invocationPath: dir + "/i.json", provdir: dir + "/prov",
            options: RunOptions(jobs: 2, workingDirectory: dir))
        request.sweeps = ["k"]
        let recorded = try Runs.record(request, backend: name)
        let (layout, log, d, tasks) = (recorded.layout, recorded.log, recorded.descriptor, recorded.tasks)
        let backend = try make(layout, log, d)
        var worker = TaskFile(experiment: layout.directory, task: "", attempt: 1, backend: backend.name, workdir: dir)
        worker.submitted = true
        let batch = SubmissionBatch(
            layout: layout, attempts: tasks.map { AttemptPlan(task: $0.id, attempt: 1, rendered: $0.rendered) }, worker: worker, groupBy: 1,
            resources: [:], throttle: 0)
        return (backend, batch)
    }

    /// Parts in order, covering every attempt once, each with one native id per attempt, no id twice; once
    /// released and ended, every attempt leaves the queue for good; accounting answers for those ids alone (nil
    /// without accounting).
    func submittedInOrder() throws {
        let (backend, batch) = try experiment("in-order", "exit [K]", [0, 0, 3, 0, 0, 0, 2])
        defer { try? backend.finish() }
        var parts: [(range: Range<Int>, ids: [String])] = []
        try backend.submit(batch) { range, ids in parts.append((range, ids)) }
        var covered = 0
        for p in parts {
            guard p.range.lowerBound == covered, !p.range.isEmpty else {
                throw Violation(promise: "parts are handed over in order, each once", seen: "\(parts.map(\.range))")
            }
            guard p.ids.count == p.range.count else {
                throw Violation(promise: "a part has one native id per attempt", seen: "\(p.range): \(p.ids)")
            }
            covered = p.range.upperBound
        }
        guard covered == batch.attempts.count else {
            throw Violation(promise: "every attempt is handed over", seen: "\(covered) of \(batch.attempts.count): \(parts.map(\.range))")
        }
        let ids = parts.flatMap(\.ids)
        guard Set(ids).count == ids.count else { throw Violation(promise: "no native id twice", seen: "\(ids)") }
        for p in parts { backend.release(p.ids) }
        try waitUntilAbsent(ids, from: backend, "attempts that ended leave the queue")
        // Ended for the scheduler (its accounting says so, where it keeps one; a listing may miss an attempt for a
        // moment): from then on, never in the queue again.
        try accountingAnswers(ids, backend)
        let again = try backend.queue()
        guard !ids.contains(where: { again[$0] != nil }) else {
            throw Violation(promise: "an id no longer held stays absent", seen: "\(again.filter { ids.contains($0.key) })")
        }
    }

    /// With accounting, an answer for every id once its accounting is in, and for no id it was not asked about
    /// (an unknown id is absent, or not settled); without, nil.
    func accountingAnswers(_ ids: [String], _ backend: any Backend) throws {
        guard keepsAccounting else {
            guard try backend.accounting(ids) == nil else {
                throw Violation(promise: "a scheduler without accounting answers nil", seen: "an answer")
            }
            return
        }
        var answered: [String: FinalState] = [:]
        let end = Date().addingTimeInterval(patience)
        while answered.count < ids.count && Date() < end {
            answered = (try backend.accounting(ids) ?? [:]).filter(\.value.settled)
            guard Set(answered.keys).isSubset(of: ids) else {
                throw Violation(promise: "accounting answers only for the ids asked", seen: "\(answered.keys.sorted())")
            }
            if answered.count < ids.count { Thread.sleep(forTimeInterval: 0.2) }
        }
        guard answered.count == ids.count else {
            throw Violation(promise: "accounting answers for attempts that ended", seen: "\(answered.count) of \(ids.count) in \(patience) s")
        }
        let unknown = Self.unknownID(like: ids[0])
        if let answer = try backend.accounting([unknown])?[unknown], answer.settled {
            throw Violation(promise: "an id the scheduler cannot say anything about is absent, or not settled", seen: "\(answer) for \(unknown)")
        }
    }

    /// An id of the backend's form that it never gave.
    static func unknownID(like id: String) -> String {
        String(id.map { $0.isNumber ? "9" : $0 }) + "9"
    }

    /// A submission whose `accepted` throws throws that error, and hands over no part after it.
    func stopsWhereAcceptedThrows() throws {
        let (backend, batch) = try experiment("refused", "exit [K]", [0, 0, 0])
        defer { try? backend.finish() }
        struct Refused: Error {}
        var handed: [[String]] = []
        do {
            try backend.submit(batch) { _, ids in
                handed.append(ids)
                throw Refused()
            }
            throw Violation(promise: "submit throws when accepted throws", seen: "it returned")
        } catch is Refused {}
        guard handed.count == 1 else { throw Violation(promise: "no part is handed over after accepted threw", seen: "\(handed.count) parts") }
        try backend.cancel(handed[0])  // submitted, never recorded: what a controller that failed would leave
        try waitUntilAbsent(handed[0], from: backend, "a cancelled attempt leaves the queue")
    }

    /// An attempt cancelled while it waits or runs leaves the queue.
    func cancelledLeaveTheQueue() throws {
        let (backend, batch) = try experiment("cancelled", "sleep [K]", [60, 60])
        defer { try? backend.finish() }
        var ids: [String] = []
        try backend.submit(batch) { _, part in ids += part }
        backend.release(ids)
        let held = try backend.queue()
        guard ids.allSatisfy({ held[$0] != nil }) else {
            throw Violation(promise: "an attempt submitted and not ended is in the queue", seen: "\(held.filter { ids.contains($0.key) })")
        }
        try backend.cancel(ids)
        try waitUntilAbsent(ids, from: backend, "a cancelled attempt leaves the queue")
    }

    /// Asks the queue until none of `ids` is in it, for `patience` seconds at most.
    func waitUntilAbsent(_ ids: [String], from backend: any Backend, _ promise: String) throws {
        let end = Date().addingTimeInterval(patience)
        var left = ids
        while true {
            let queue = try backend.queue()
            left = ids.filter { queue[$0] != nil }
            if left.isEmpty { return }
            guard Date() < end else { throw Violation(promise: promise, seen: "\(left) still held after \(patience) s") }
            backend.waitForChange(upTo: 0.2)
        }
    }
}
