import Backends
import EventLog
import Foundation
import Runner
import TestSupport
import Testing

/// Peak memory: each attempt's `peak_rss` is the peak of its own process tree, never clowdr's (a child started from
/// clowdr's address space inherits clowdr's peak in its `ru_maxrss`; `clowdr-shim` is what keeps the two apart).
@Suite("Peak memory of attempts", .serialized)
struct PeakMemoryTests {
    static let mib: Int64 = 1 << 20

    /// Runs `tool ARGUMENT` (the argument quoted as Boutiques quotes a string) as the one task of a new experiment,
    /// as clowdr runs any command line (through `/bin/sh -c`), and returns its attempt's peak RSS.
    func peak(_ tool: String, _ argument: String, sampling: Double = 0.1) throws -> Int64 {
        let dir = try TestSupport.temporaryDirectory("peak")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let descriptor = """
            {"name":"p","tool-version":"1","description":"d","schema-version":"0.5","command-line":"\(tool) [CMD]",
             "inputs":[{"id":"cmd","name":"cmd","type":"String","value-key":"[CMD]"}]}
            """
        try descriptor.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        let invocation = try JSONSerialization.data(withJSONObject: ["cmd": argument])
        try invocation.write(to: URL(fileURLWithPath: dir + "/i.json"))
        var options = RunOptions(jobs: 1, workingDirectory: dir)
        options.denseInterval = sampling
        options.sampleInterval = sampling
        let summary = try BackendRuns.start(
            RunRequest(descriptorPath: dir + "/d.json", invocationPath: dir + "/i.json", provdir: dir + "/prov", options: options),
            on: .init(backend: .local), cancel: CancellationFlag())
        #expect(summary.allSucceeded, "the task failed: \(tool) \(argument)")
        let state = try EventLog(path: summary.layout.log, mode: .readOnly).replay()
        return try #require(state.tasks["0"]?.attempts.last?.peakRSS)
    }

    /// `/usr/bin/time -v`'s "Maximum resident set size" for the same command, bytes (nil: GNU time is not installed).
    func timeV(_ arguments: [String]) throws -> Int64? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else { return nil }
        let out = try TestSupport.run("/usr/bin/time", ["-v"] + arguments)
        let line = out.stderr.split(separator: "\n").first { $0.contains("Maximum resident set size") }
        return line.flatMap { Int64($0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) }.map { $0 * 1024 }
    }

    /// A Python one-liner that allocates and touches `mb` MiB, holds it `hold` seconds, and exits.
    func allocate(_ mb: Int, hold: Double) -> String { "import time; b = b'x' * (\(mb) << 20); time.sleep(\(hold))" }

    @Test("the shim is built beside the binaries (without it, peaks come from samples alone)")
    func shimFound() {
        #expect(Shim.path != nil, "clowdr-shim was not found beside \(TestSupport.buildDirectory): run swift build")
    }

    @Test("a task of a few MB records a peak below 8 MB while clowdr itself holds 200 MB or more")
    func smallTaskBigController() throws {
        // Hold 256 MiB, touched, in this process (the controller) for the whole run.
        let size = 256 << 20
        let ballast = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        defer { ballast.deallocate() }
        for i in stride(from: 0, to: size, by: 4096) { ballast[i] = 1 }
        let own = try String(contentsOfFile: "/proc/self/status", encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        let ownRSS = (Int64(own?.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
        #expect(ownRSS >= 200 * Self.mib, "the controller holds only \(ownRSS >> 20) MiB")
        let recorded = try peak("sleep", "0.5")
        print("peak memory: sleep 0.5 with the controller at \(ownRSS >> 20) MiB: \(recorded >> 10) KiB")
        #expect(recorded < 8 * Self.mib, "sleep 0.5 recorded \(recorded >> 10) KiB: the controller's size leaks in")
        withExtendedLifetime(ballast) {}
    }

    /// The reference these tests compare with: GNU time (Debian's `time`; make test installs it).
    static let hasTime = FileManager.default.isExecutableFile(atPath: "/usr/bin/time")

    @Test(
        "a single-process tool's peak is within 5% (or 2 MB) of /usr/bin/time -v's",
        .enabled(if: hasTime, "/usr/bin/time is not installed (Debian package 'time'; make test installs it)"), arguments: [10, 100, 500])
    func singleProcess(mb: Int) throws {
        let script = allocate(mb, hold: 0.3)
        let reference = try #require(try timeV(["python3", "-c", script]), "/usr/bin/time -v gave no peak")
        let recorded = try peak("python3 -c", script)
        print("peak memory: python allocating \(mb) MB: /usr/bin/time -v \(reference >> 10) KiB, clowdr \(recorded >> 10) KiB")
        let tolerance = max(Double(reference) * 0.05, Double(2 * Self.mib))
        #expect(abs(Double(recorded - reference)) <= tolerance, "clowdr \(recorded) vs time -v \(reference)")
    }

    @Test(
        "a task shorter than one sample interval still gets its true peak",
        .enabled(if: hasTime, "/usr/bin/time is not installed (Debian package 'time'; make test installs it)"))
    func shorterThanASample() throws {
        let script = allocate(100, hold: 0)
        let reference = try #require(try timeV(["python3", "-c", script]), "/usr/bin/time -v gave no peak")
        // Samples every 30 s: the task is over long before the first.
        let recorded = try peak("python3 -c", script, sampling: 30)
        print("peak memory: 100 MB task with no sample: /usr/bin/time -v \(reference >> 10) KiB, clowdr \(recorded >> 10) KiB")
        #expect(abs(Double(recorded - reference)) <= max(Double(reference) * 0.05, Double(2 * Self.mib)))
    }

    @Test("a tree of 4 processes holding memory at once records at least the sum of their peaks")
    func tree() throws {
        // Each child prints its own peak (ru_maxrss, KiB) to a file of its own.
        let dir = try TestSupport.temporaryDirectory("peak-tree")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let child = "import resource, time; b = b'x' * (40 << 20); time.sleep(1.5); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        let command = "for i in 1 2 3 4; do python3 -c \"\(child)\" > \(dir)/$i & done; wait"
        let recorded = try peak("sh -c", command)
        var sum: Int64 = 0
        for i in 1...4 {
            let text = try String(contentsOfFile: "\(dir)/\(i)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            sum += (Int64(text) ?? 0) * 1024
        }
        print("peak memory: 4 processes of 40 MB: sum of their peaks \(sum >> 10) KiB, clowdr \(recorded >> 10) KiB")
        #expect(sum > 160 * Self.mib)
        #expect(recorded >= sum, "the tree's peak \(recorded) is below the sum of its processes' peaks \(sum)")
    }
}
