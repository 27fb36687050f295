import EventLog
import JSON
import Testing

/// Builds event sequences for replay tests with a deterministic clock and ids.
struct Script {
    /// One deterministic clock and id source for every script, so the events of several scripts never share an id.
    static let factory = EventFactory(clock: SteppingClock(), ids: SequentialIDSource())
    let f = Script.factory
    var events: [Event] = []

    mutating func add(_ task: String?, _ attempt: Int?, _ body: EventBody) { events.append(f.make(task: task, attempt: attempt, body)) }

    mutating func plan(_ task: String) { add(task, nil, .taskPlanned(TaskPlanned(invocation: ["t": .string(task)], commandLine: "run \(task)"))) }
    mutating func submit(_ task: String, _ a: Int, native: String? = nil) {
        add(task, a, .taskSubmitted(TaskSubmitted(backend: "local", nativeID: native)))
    }
    mutating func start(_ task: String, _ a: Int) { add(task, a, .taskStarted(TaskStarted(host: "vm", pid: 100, bootID: "b"))) }
    mutating func sample(_ task: String, _ a: Int, rss: Int64) {
        add(task, a, .sample(Sample(cpuUser: 1, cpuSystem: 0, rss: rss, vms: 0, readBytes: 0, writeBytes: 0, processes: 1, threads: 1)))
    }
    mutating func exit(_ task: String, _ a: Int, code: Int32?, signal: Int32? = nil, reason: String? = nil, peak: Int64 = 10) {
        add(task, a, .taskExited(TaskExited(exitCode: code, signal: signal, wallTime: 1, peakRSS: peak, failureReason: reason)))
    }
    mutating func lost(_ task: String, _ a: Int) { add(task, a, .taskLost(TaskLost(reason: "controller gone"))) }
    mutating func cancel(_ task: String, _ a: Int) { add(task, a, .taskCancelled(TaskCancelled(reason: "SIGTERM", signal: 15))) }
    mutating func launchFailed(_ task: String, _ a: Int) { add(task, a, .taskLaunchFailed(TaskLaunchFailed(reason: "no such file"))) }

    /// The events with seqs 1, 2, 3, ... as the log would store them.
    func stored() throws -> [RawEvent] {
        try events.enumerated().map { i, e in
            var r = try e.raw()
            r.seq = Int64(i + 1)
            return r
        }
    }

    func replay() throws -> ExperimentState { Replay.run(try stored()) }
}

@Suite("Replay: events to task states")
struct ReplayTests {
    @Test("a worker stopped by a signal it did not ask for: the scheduler's reason (a time limit) makes the attempt failed, in either order")
    func stoppedThenExplained() throws {
        func ended(_ s: inout Script, _ c: FailureClass) {
            s.add(
                "1", 1,
                .taskEnded(
                    TaskEnded(backend: "slurm", nativeID: "7_0", state: c == .timeout ? "TIMEOUT" : "CANCELLED", failureClass: c, reason: "why")))
        }
        var s = Script()
        s.plan("1")
        s.submit("1", 1)
        s.start("1", 1)
        var worker = s
        worker.cancel("1", 1)
        worker.exit("1", 1, code: nil, signal: 15, peak: 500)
        #expect(try worker.replay().tasks["1"]?.state == .cancelled)
        var timedOut = worker
        ended(&timedOut, .timeout)
        let a = try #require(try timedOut.replay().tasks["1"]?.latest)
        #expect(a.state == .failed && a.failureReason == "why" && a.peakRSS == 500 && a.signal == 15 && a.wallTime == 1)
        var scancelled = worker
        ended(&scancelled, .cancelled)
        #expect(try scancelled.replay().tasks["1"]?.state == .cancelled)
        // The scheduler's word read first, the worker's segment later: the same outcome.
        var late = s
        ended(&late, .timeout)
        late.cancel("1", 1)
        late.exit("1", 1, code: nil, signal: 15, peak: 500)
        #expect(try late.replay().tasks["1"]?.state == .failed)
    }

    @Test("a task goes planned, submitted, running, succeeded; each step is visible")
    func happyPath() throws {
        var s = Script()
        s.plan("1")
        #expect(try s.replay().tasks["1"]?.state == .planned)
        s.submit("1", 1, native: "4242")
        #expect(try s.replay().tasks["1"]?.state == .submitted)
        s.start("1", 1)
        #expect(try s.replay().tasks["1"]?.state == .running)
        s.sample("1", 1, rss: 500)
        s.sample("1", 1, rss: 900)
        s.exit("1", 1, code: 0, peak: 700)
        let t = try #require(try s.replay().tasks["1"])
        #expect(t.state == .succeeded)
        #expect(t.plannedSeq == 1)
        let a = try #require(t.latest)
        #expect(a.nativeID == "4242" && a.host == "vm" && a.pid == 100 && a.exitCode == 0)
        #expect(a.samples == 2)
        #expect(a.peakRSS == 900, "the peak is the larger of the samples and the exit totals")
        #expect(a.submittedAt != nil && a.startedAt != nil && a.endedAt != nil)
    }

    @Test(
        "every way to end an attempt",
        arguments: [
            ("exit 0", TaskState.succeeded), ("exit 3", .failed), ("signal 9", .failed), ("missing output", .failed),
            ("launch failed", .failed), ("lost", .lost), ("cancelled", .cancelled),
        ])
    func endings(how: String, expected: TaskState) throws {
        var s = Script()
        s.plan("t")
        s.submit("t", 1)
        if how != "launch failed" { s.start("t", 1) }
        switch how {
        case "exit 0": s.exit("t", 1, code: 0)
        case "exit 3": s.exit("t", 1, code: 3)
        case "signal 9": s.exit("t", 1, code: nil, signal: 9)
        case "missing output": s.exit("t", 1, code: 0, reason: "missing output out1")
        case "launch failed": s.launchFailed("t", 1)
        case "lost": s.lost("t", 1)
        default: s.cancel("t", 1)
        }
        #expect(try s.replay().tasks["t"]?.state == expected)
    }

    @Test("lost is a presumption: a later exit overrides it, it never overrides an exit")
    func lostVersusExit() throws {
        var a = Script()
        a.plan("t")
        a.start("t", 1)
        a.lost("t", 1)
        a.exit("t", 1, code: 0)
        #expect(try a.replay().tasks["t"]?.state == .succeeded)
        var b = Script()
        b.plan("t")
        b.start("t", 1)
        b.exit("t", 1, code: 2)
        b.lost("t", 1)
        #expect(try b.replay().tasks["t"]?.state == .failed)
    }

    @Test("a cancelled attempt stays cancelled when its process then exits, and gets its totals")
    func cancelThenExit() throws {
        var s = Script()
        s.plan("t")
        s.start("t", 1)
        s.cancel("t", 1)
        s.exit("t", 1, code: nil, signal: 15, peak: 1234)
        let a = try #require(try s.replay().tasks["t"]?.latest)
        #expect(a.state == .cancelled)
        #expect(a.peakRSS == 1234 && a.signal == 15)
        // A cancellation that arrives after a success changes nothing.
        var ok = Script()
        ok.plan("t")
        ok.start("t", 1)
        ok.exit("t", 1, code: 0)
        ok.cancel("t", 1)
        #expect(try ok.replay().tasks["t"]?.state == .succeeded)
    }

    @Test("a rerun adds an attempt; the old one stays, with its history")
    func rerunKeepsHistory() throws {
        var s = Script()
        s.plan("t")
        s.submit("t", 1)
        s.start("t", 1)
        s.exit("t", 1, code: 1)
        s.add(nil, nil, .rerunRequested(RerunRequested(mode: .failed, tasks: ["t"])))
        s.submit("t", 2)
        s.start("t", 2)
        s.exit("t", 2, code: 0)
        let st = try s.replay()
        let t = try #require(st.tasks["t"])
        #expect(t.attempts.map(\.attempt) == [1, 2])
        #expect(t.attempts.map(\.state) == [.failed, .succeeded])
        #expect(t.state == .succeeded)
        #expect(t.nextAttempt == 3)
        #expect(st.reruns.count == 1 && st.reruns[0].request.tasks == ["t"])
    }

    @Test("selections: all, failed, incomplete")
    func selections() throws {
        var s = Script()
        for t in ["ok", "fail", "lost", "cancel", "planned", "running", "submitted", "launchfail"] { s.plan(t) }
        s.start("ok", 1)
        s.exit("ok", 1, code: 0)
        s.start("fail", 1)
        s.exit("fail", 1, code: 2)
        s.start("lost", 1)
        s.lost("lost", 1)
        s.start("cancel", 1)
        s.cancel("cancel", 1)
        s.start("running", 1)
        s.submit("submitted", 1)
        s.launchFailed("launchfail", 1)
        let st = try s.replay()
        #expect(st.select(.all) == ["ok", "fail", "lost", "cancel", "planned", "running", "submitted", "launchfail"])
        #expect(st.select(.failed) == ["fail", "launchfail"])
        #expect(st.select(.incomplete) == ["lost", "cancel", "planned", "running", "submitted"])
        // Tasks a live process is still working on are not incomplete.
        #expect(st.select(.incomplete, isAlive: { $0.task == "running" }) == ["lost", "cancel", "planned", "submitted"])
        #expect(st.counts[.failed] == 2 && st.counts[.succeeded] == 1)
    }

    @Test("events out of order (a worker's segment ingested late) do not move a task backwards")
    func outOfOrder() throws {
        var s = Script()
        s.plan("t")
        s.start("t", 1)
        s.exit("t", 1, code: 0)
        s.submit("t", 1, native: "99")
        let a = try #require(try s.replay().tasks["t"]?.latest)
        #expect(a.state == .succeeded)
        #expect(a.nativeID == "99")
        // A sample before any start creates the attempt as running.
        var r = Script()
        r.plan("u")
        r.sample("u", 1, rss: 5)
        #expect(try r.replay().tasks["u"]?.state == .running)
    }

    @Test("unknown event types are counted, kept, and change nothing")
    func unknownTypes() throws {
        var s = Script()
        s.plan("t")
        s.add("t", 1, .unknown(type: "gpu_sample", version: 1, payload: "{}"))
        s.add("t", 1, .unknown(type: "task_started", version: 9, payload: "{}"))
        let st = try s.replay()
        #expect(st.tasks["t"]?.state == .planned)
        #expect(st.unknownEvents.map(\.type) == ["gpu_sample", "task_started"])
        #expect(st.eventCount == 3)
    }
}
