import SQLite

extension EventLog {
    /// The experiment's state read from the projection tables and the few events they do not hold (the experiment,
    /// its reruns, events of types this build does not know), without replaying every event: what `clowdr status`
    /// reads, as fast at five million events as at five hundred. The same as `replay()` but for
    /// `unreadableEvents`, which only a replay finds (`fsck` replays, and checks the projections against it).
    public func projectedState() throws -> ExperimentState {
        try read {
            var state = try experimentLevelState()
            state.tasks = try ProjectionTables.loadAll(db)
            state.taskOrder = state.tasks.values.sorted { ($0.plannedSeq ?? $0.lastSeq, $0.task) < ($1.plannedSeq ?? $1.lastSeq, $1.task) }.map(
                \.task)
            if let last = try db.rows("SELECT seq, time FROM events ORDER BY seq DESC LIMIT 1").first {
                state.eventCount = last[0].int64 ?? 0
                state.lastSeq = last[0].int64 ?? 0
                state.lastEventAt = last[1].int64.map { Timestamp(microseconds: $0) }
            }
            return state
        }
    }

    /// The experiment-level part of the state (its creation, reruns, events of unknown types or versions), from the
    /// lifecycle index: no task is loaded. Call inside `read`.
    func experimentLevelState() throws -> ExperimentState {
        var state = ExperimentState()
        let known = Set(EventType.allCases.map(\.rawValue))
        // The types in the log, one index seek each (never a scan of its lifecycle events, let alone its samples).
        var types: [String] = []
        let next = try db.prepare("SELECT type FROM events WHERE type > ? AND type <> 'sample' ORDER BY type LIMIT 1")
        while true {
            next.reset()
            try next.bind(.text(types.last ?? ""), at: 1)
            guard try next.step() else { break }
            types.append(next.string(0))
        }
        let wanted =
            types.filter { !known.contains($0) } + [
                EventType.experimentCreated.rawValue, EventType.rerunRequested.rawValue, EventType.segmentRefused.rawValue,
            ]
        var events: [RawEvent] = []
        let select = try db.prepare("SELECT \(RawEvent.columns) FROM events WHERE type = ? AND type <> 'sample'")
        for type in wanted {
            select.reset()
            try select.bind(.text(type), at: 1)
            while try select.step() { events.append(RawEvent(row: select)) }
        }
        for e in events.sorted(by: { ($0.seq ?? 0) < ($1.seq ?? 0) }) { Replay.apply(e, to: &state) }
        let listed = EventType.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        state.unknownEvents += try db.rows(
            "SELECT seq, type, version FROM events WHERE version <> \(EventType.firstVersion) AND +type <> 'sample' AND +type IN (\(listed)) AND NOT (\(EventType.readableSQL)) ORDER BY seq"
        ).map { UnknownEvent(seq: $0[0].int64 ?? 0, type: $0[1].string ?? "", version: Int($0[2].int64 ?? 0)) }
        return state
    }

    /// What `clowdr status` shows, without loading every task: the experiment-level state, the number of tasks in
    /// each state, and the first `shown` running and failed tasks in plan order (loaded into `state.tasks`).
    public func statusSummary(shown: Int) throws -> StatusSummary {
        try read {
            var summary = StatusSummary(state: try experimentLevelState())
            for row in try db.rows("SELECT state, count(*) FROM tasks GROUP BY state") {
                guard let name = row[0].string, let status = TaskState(rawValue: name) else { continue }
                summary.counts[status] = Int(row[1].int64 ?? 0)
            }
            let first = try db.prepare("SELECT task FROM tasks WHERE state = ? ORDER BY coalesce(planned_seq, last_seq), task LIMIT ?")
            let tables = try ProjectionTables(db)
            for status in [TaskState.running, .failed] {
                first.reset()
                try first.bind([.text(status.rawValue), .integer(Int64(shown))])
                var names: [String] = []
                while try first.step() { names.append(first.string(0)) }
                for name in names {
                    guard let task = try tables.load(task: name) else { continue }
                    summary.state.tasks[name] = task
                    summary.first[status, default: []].append(name)
                }
            }
            return summary
        }
    }
}

/// What `clowdr status` shows of an experiment (`EventLog.statusSummary`).
public struct StatusSummary: Sendable {
    /// The experiment-level state, with only the tasks listed in `first`.
    public var state: ExperimentState
    /// How many tasks are in each state.
    public var counts: [TaskState: Int] = [:]
    /// The first tasks of a state, in plan order (running and failed).
    public var first: [TaskState: [String]] = [:]

    /// The number of tasks.
    public var tasks: Int { counts.values.reduce(0, +) }

    /// How many tasks `rerun incomplete` would run: planned, lost and cancelled ones, and running or submitted ones
    /// unless the process that follows them is alive (`isAlive`, as `ExperimentState.select`).
    public func incomplete(controllerAlive: Bool) -> Int {
        let never = [TaskState.planned, .lost, .cancelled].reduce(0) { $0 + (counts[$1] ?? 0) }
        return never + (controllerAlive ? 0 : (counts[.running] ?? 0) + (counts[.submitted] ?? 0))
    }
}
