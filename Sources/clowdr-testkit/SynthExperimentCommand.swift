import ArgumentParser
import Digest
import EventLog
import Foundation
import JSON

/// `clowdr-testkit synth-experiment`: writes a realistic experiment folder (log, stdout and stderr files) without
/// running anything: a BIDS app over N participants on L workers, durations of minutes, 3% failures retried once, a
/// few lost or cancelled, S samples per attempt, two outputs with sha256 each, 20 lines of stdout; 2% fail for good.
/// The report's benchmark and browser tests read it.
struct SynthExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-experiment", abstract: "Write a synthetic experiment folder (replaced if it exists); prints its path.")

    @Option(help: "The experiment folder to write.")
    var dir: String

    @Option(help: "Tasks (participants).")
    var tasks = 1000

    @Option(help: "Monitor samples per attempt.")
    var samples = 50

    @Option(help: "Workers running at once.")
    var lanes = 64

    @Option(help: "The random seed: the same seed gives the same experiment.")
    var seed: UInt64 = 11

    func validate() throws {
        if tasks < 1 || samples < 0 || lanes < 1 { throw ValidationError("--tasks and --lanes must be at least 1, --samples at least 0") }
    }

    func run() throws {
        try? FileManager.default.removeItem(atPath: dir)
        let layout = ExperimentLayout(directory: dir)
        try FileManager.default.createDirectory(atPath: layout.tasks, withIntermediateDirectories: true)
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        try SyntheticExperiment.descriptor.write(toFile: layout.descriptor, atomically: true, encoding: .utf8)
        let writer = SyntheticExperiment(layout: layout, seed: seed, lanes: lanes, samples: samples)
        try log.append([writer.created()])
        for t in 0..<tasks {
            try writer.task(t)
            if writer.batch.count >= 20_000 { try log.append(writer.take()) }
        }
        try log.append(writer.take())
        print(dir)
    }
}

/// The synthetic experiment being written: its random draws (always in the same order, so a seed gives the same
/// experiment), the workers' lanes and the events not yet appended.
final class SyntheticExperiment {
    let layout: ExperimentLayout
    let samples: Int
    var rng: SplitMix64
    let factory = EventFactory(clock: SteppingClock(), ids: SequentialIDSource())
    let t0: Int64 = 1_800_000_000_000_000
    /// When each lane (a worker) is free again.
    var laneFree: [Int64]
    var batch: [Event] = []

    init(layout: ExperimentLayout, seed: UInt64, lanes: Int, samples: Int) {
        self.layout = layout
        self.samples = samples
        rng = SplitMix64(seed: seed)
        laneFree = [Int64](repeating: t0 + 1_000_000, count: lanes)
    }

    func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
    func hex(_ bytes: Int) -> String { Hex.lowercase((0..<bytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }) }

    func at(_ us: Int64, _ task: String, _ attempt: Int?, _ body: EventBody) {
        batch.append(factory.make(at: Timestamp(microseconds: us), task: task, attempt: attempt, body))
    }

    /// The events not appended yet, handed over.
    func take() -> [Event] {
        defer { batch.removeAll(keepingCapacity: true) }
        return batch
    }

    func created() -> Event {
        factory.make(
            at: Timestamp(microseconds: t0),
            .experimentCreated(
                ExperimentCreated(
                    experiment: (layout.directory as NSString).lastPathComponent, name: "synthetic", descriptorSHA256: hex(32),
                    toolName: "fmriprep-like", toolVersion: "23.1.4", invocations: ["invocation.json"], options: ["jobs": String(laneFree.count)],
                    backend: "local", user: "bench", host: "node01", clowdrVersion: ClowdrVersion.current, os: "Linux")))
    }

    /// The descriptor the tasks' invocations follow (the experiment folder's `descriptor.json`).
    static let descriptor = #"""
        {"name": "fmriprep-like", "tool-version": "23.1.4", "schema-version": "0.5",
         "description": "A synthetic BIDS app with fMRIPrep's arguments.",
         "command-line": "fmriprep [BIDS_DIR] [OUTPUT_DIR] [LEVEL] [PARTICIPANT] [FWHM] [NTHREADS]",
         "inputs": [
          {"id": "bids_dir", "name": "BIDS dataset", "type": "File", "value-key": "[BIDS_DIR]"},
          {"id": "output_dir", "name": "Output folder", "type": "String", "value-key": "[OUTPUT_DIR]"},
          {"id": "analysis_level", "name": "Analysis level", "type": "String", "value-key": "[LEVEL]"},
          {"id": "participant_label", "name": "Participants", "type": "String", "list": true, "optional": true,
           "command-line-flag": "--participant-label", "value-key": "[PARTICIPANT]"},
          {"id": "smoothing_fwhm", "name": "Smoothing", "type": "Number", "optional": true, "command-line-flag": "--smoothing-fwhm",
           "value-key": "[FWHM]"},
          {"id": "nthreads", "name": "Threads", "type": "Number", "integer": true, "optional": true, "command-line-flag": "--nthreads",
           "value-key": "[NTHREADS]"}],
         "output-files": [
          {"id": "report", "name": "Report", "path-template": "[OUTPUT_DIR]/report.html"},
          {"id": "preproc_bold", "name": "Preprocessed BOLD", "path-template": "[OUTPUT_DIR]/bold.nii.gz"}]}
        """#

    /// Task `t`: planned, then one attempt (two for the 3% retried), each failed, lost or succeeded.
    func task(_ t: Int) throws {
        let subject = String(format: "sub-%06d", t)
        plan(t, subject: subject)
        let fate = uniform()
        let attempts = fate < 0.03 ? 2 : 1
        for attempt in 1...attempts {
            let failed = (attempts == 2 && attempt == 1) || (fate >= 0.03 && fate < 0.05)  // retried, or failed for good
            try self.attempt(attempt, of: t, subject: subject, failed: failed, lost: !failed && fate > 0.998)
        }
    }

    func plan(_ t: Int, subject: String) {
        let smoothing = [4.0, 6.0, 8.0][t % 3]
        let invocation: JSONValue = [
            "bids_dir": "/data/ds004215", "output_dir": "/scratch/derivatives/fmriprep", "analysis_level": "participant",
            "participant_label": [.string(subject)], "smoothing_fwhm": .number(JSONNumber(smoothing)), "nthreads": 4,
        ]
        let commandLine =
            "fmriprep /data/ds004215 /scratch/derivatives/fmriprep participant --participant-label \(subject) --smoothing-fwhm \(smoothing) --nthreads 4 --skip-bids-validation"
        at(
            t0 + 1000 + Int64(t), String(t), nil,
            .taskPlanned(TaskPlanned(invocation: invocation, commandLine: commandLine, labels: ["participant": subject])))
    }

    /// One attempt on the lane free first: submitted, started, sampled, its streams written, then lost or exited.
    func attempt(_ attempt: Int, of t: Int, subject: String, failed: Bool, lost: Bool) throws {
        let task = String(t)
        let lane = laneFree.indices.min { laneFree[$0] < laneFree[$1] }!
        let submitted = laneFree[lane]
        let started = submitted + Int64(uniform() * 20_000_000)
        let duration = Int64((300 + 900 * uniform() * uniform()) * 1_000_000)
        let ended = started + duration
        laneFree[lane] = ended + 200_000
        at(submitted, task, attempt, .taskSubmitted(TaskSubmitted(backend: "local", nativeID: String(40_000 + t))))
        at(started, task, attempt, .taskStarted(TaskStarted(host: "node\(String(format: "%02d", lane % 8 + 1))", pid: Int32(10_000 + t))))
        let peak = sample(task, attempt, started: started, duration: duration)
        try writeStreams(task, attempt, subject: subject, failed: failed)
        if lost {
            at(ended, task, attempt, .taskLost(TaskLost(reason: "no heartbeat for 600 s")))
            return
        }
        let outputs = [
            OutputFile(id: "report", path: "/scratch/derivatives/fmriprep/\(subject).html", size: 2_000_000 + Int64(t), sha256: hex(32)),
            OutputFile(
                id: "preproc_bold", path: "/scratch/derivatives/fmriprep/\(subject)/func/\(subject)_task-rest_desc-preproc_bold.nii.gz",
                size: failed ? nil : 400_000_000 + Int64(t), sha256: failed ? nil : hex(32)),
        ]
        let wall = Double(ended - started) / 1e6
        at(
            ended, task, attempt,
            .taskExited(
                TaskExited(
                    exitCode: failed ? 1 : 0, wallTime: wall, cpuUser: wall * 3.2, cpuSystem: wall * 0.2, peakRSS: peak, readBytes: 2_000_000_000,
                    writeBytes: 500_000_000, outputs: outputs, failureReason: failed ? "exit code 1" : nil)))
    }

    /// The attempt's samples, its memory growing to a random base; returns their peak.
    func sample(_ task: String, _ attempt: Int, started: Int64, duration: Int64) -> Int64 {
        let base = Int64(800 << 20) + Int64(uniform() * Double(3 << 30))
        var peak: Int64 = 0
        for k in 0..<samples {
            let f = Double(k + 1) / Double(samples)
            let rss = Int64(Double(base) * (0.3 + 0.7 * min(1, f * 1.6)) * (0.9 + 0.1 * uniform()))
            peak = max(peak, rss)
            let time = started + Int64(Double(duration) * f * 0.98)
            let seconds = Double(time - started) / 1e6
            at(
                time, task, attempt,
                .sample(
                    Sample(
                        cpuUser: seconds * 3.2, cpuSystem: seconds * 0.2, rss: rss, vms: rss * 2, readBytes: Int64(f * 2e9),
                        writeBytes: Int64(f * 5e8), processes: 6, threads: 24)))
        }
        return peak
    }

    /// 20 lines of stdout; a MemoryError on stderr when the attempt failed (an empty file otherwise).
    func writeStreams(_ task: String, _ attempt: Int, subject: String, failed: Bool) throws {
        var out = ""
        for line in 0..<20 {
            out += "\(subject) step \(line): \(["anatomical", "functional", "confounds", "reports"][line % 4]) workflow done\n"
        }
        try out.write(toFile: layout.stdout(task, attempt), atomically: false, encoding: .utf8)
        try (failed ? "ERROR: node fmri_preproc.bold_confounds failed: MemoryError\n" : "").write(
            toFile: layout.stderr(task, attempt), atomically: false, encoding: .utf8)
    }
}
