import CClowdrSystem
import EventLog
import Foundation
import JSON
import Query
import TestSupport
import Testing

@testable import Export

/// The report's data (core and detail documents), its page, and the pieces they are built from.
@Suite("HTML report")
struct ReportTests {
    /// The golden experiment folder (GoldenTests' log) with stdout/stderr files for its attempts.
    func experiment() throws -> String {
        let db = try GoldenTests().log()
        let dir = (db as NSString).deletingLastPathComponent
        for (task, attempt, out, err) in [("0", 1, "done 0\n", ""), ("1", 1, "", "bet: error\n"), ("1", 2, "line\n", "")] {
            try FileManager.default.createDirectory(atPath: "\(dir)/tasks", withIntermediateDirectories: true)
            try out.write(toFile: "\(dir)/tasks/\(task).\(attempt).stdout", atomically: false, encoding: .utf8)
            try err.write(toFile: "\(dir)/tasks/\(task).\(attempt).stderr", atomically: false, encoding: .utf8)
        }
        return dir
    }

    @Test("core and detail documents are byte-stable (golden files) and hold the columns the page reads")
    func golden() throws {
        let dir = try experiment()
        let data = try ReportData.build(experimentDirectory: dir)
        try data.core.write(toFile: dir + "/core.json", atomically: false, encoding: .utf8)
        try data.detail.write(toFile: dir + "/detail.json", atomically: false, encoding: .utf8)
        // The folder name is random: compare with it replaced.
        for name in ["core.json", "detail.json"] {
            let text = try String(contentsOfFile: dir + "/" + name, encoding: .utf8).replacingOccurrences(
                of: (dir as NSString).lastPathComponent, with: "EXPERIMENT")
            try text.write(toFile: dir + "/" + name, atomically: false, encoding: .utf8)
            try GoldenTests().compare(dir + "/" + name, "report-" + name)
        }
        let core = try JSONParser.parse(data.core)
        #expect(core["tasks"]?["id"] == ["0", "1"])
        #expect(core["tasks"]?["attempts"] == [1, 2])
        #expect(core["tasks"]?["state"] == [.number(JSONNumber(3)), .number(JSONNumber(3))], "both succeeded in the end (code 3)")
        #expect(core["params"] == ["participant"])
        #expect(core["tasks"]?["params"] == [["01", "02"]])
        guard case .array(let attemptTasks)? = core["attempts"]?["task"] else {
            Issue.record("no attempts column")
            return
        }
        #expect(attemptTasks.count == 3, "one entry per attempt")
        #expect(data.tasks == 2 && data.attempts == 3)
        let detail = try JSONParser.parse(data.detail)
        #expect(detail["command_line"] == ["bet sub-01/T1.nii.gz out_01", "bet sub-02/T1.nii.gz out_02"])
        #expect(detail["logs"]?["1"]?["stdout"]?["text"] == "line\n", "the latest attempt's stdout")
        #expect(detail["samples"]?["0"]?["rss"] == [1_000_000, 2_000_000])
        // Each task's latest attempt read a file in $HOME: counted in the table, listed in the detail.
        #expect(core["tasks"]?["undeclared"] == [1, 1])
        #expect(detail["undeclared"]?["1"] == ["/home/alice/.betrc"])
        // What task 0's attempt ran with: the clowdr, the host, the image as resolved.
        #expect(
            detail["environment"]?["0"]?["cpu_model"] == "AMD EPYC 7B13"
                && detail["environment"]?["0"]?["image_digest"]?.stringValue?.hasPrefix("sha256:") == true)
        #expect(detail["environment"]?["1"] == nil, "task 1's start said nothing of its host")
    }

    @Test("the page is self-contained: every placeholder filled, nothing to fetch, and the data decodes to the documents")
    func page() throws {
        let dir = try experiment()
        let out = dir + "/report.html"
        let data = try HTMLReport.write(experimentDirectory: dir, to: out)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        #expect(!html.contains("{{"), "a placeholder was left")
        #expect(html.contains("default-src 'none'") && html.contains("connect-src 'none'"), "the CSP forbids every request")
        for pattern in ["<link", " src=\"http", " href=\"http", "@import", "url(", "fetch('http", "<iframe"] {
            #expect(!html.contains(pattern), "the page must not load anything: found \(pattern)")
        }
        #expect(!FileManager.default.fileExists(atPath: out + ".tmp-\(getpid())"), "no temporary file left")
        // Each block: base64 of gzip of the document.
        for (id, expected) in [("clowdr-core", data.core), ("clowdr-detail", data.detail)] {
            guard let start = html.range(of: "id=\"\(id)\" data-encoding=\"gzip+base64\">\n"),
                let end = html[start.upperBound...].range(of: "\n</script>"),
                let gz = Data(base64Encoded: String(html[start.upperBound..<end.lowerBound]), options: .ignoreUnknownCharacters)
            else {
                Issue.record("no \(id) block")
                continue
            }
            #expect(try Self.gunzip(gz, in: dir) == expected)
        }
    }

    /// Decompresses through zlib's file API (the same library the report is compressed with, read the other way).
    static func gunzip(_ gz: Data, in dir: String) throws -> String {
        let path = dir + "/block.gz"
        try gz.write(to: URL(fileURLWithPath: path))
        guard let f = clowdr_gz_open(path, "rb") else { throw CocoaError(.fileReadUnknown) }
        defer { _ = clowdr_gz_close(f) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { clowdr_gz_read(f, $0.baseAddress, UInt32($0.count)) }
            if n <= 0 { break }
            out += buffer[0..<Int(n)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test("downsampling keeps each bucket's highest RSS, so the peak survives; CPU % comes from cumulative CPU time")
    func downsample() {
        let start: Int64 = 1_000_000
        // 1,000 samples 0.1 s apart, a 5 GB spike at sample 517, CPU time growing at 2 cores.
        let samples = (1...1000).map { k in (time: start + Int64(k) * 100_000, rss: k == 517 ? Int64(5e9) : Int64(1e9), cpu: Double(k) * 0.2) }
        let s = ReportData.downsample(samples, start: start, to: 50)
        #expect(s.t.count == 50 && s.total == 1000)
        #expect(s.rss.max() == Int64(5e9), "the spike is kept")
        #expect(s.cpu.allSatisfy { abs($0 - 200) < 0.001 }, "\(s.cpu.prefix(3))")
        #expect(s.t.last == 100.0, "time of the last sample, seconds since the start")
        #expect(ReportData.downsample(Array(samples.prefix(10)), start: start, to: 50).t.count == 10, "fewer samples than points: all kept")
    }

    @Test("log tails: the last N lines read from the end, a partial first line dropped, size and completeness reported")
    func logTail() throws {
        let dir = try TestSupport.temporaryDirectory("tail")
        let text = (1...1000).map { "line \($0)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: dir + "/out", atomically: false, encoding: .utf8)
        let t = LogTail.read(path: dir + "/out", lines: 200, bytes: 16 << 10)
        #expect(t.text.hasPrefix("line 801\n") && t.text.hasSuffix("line 1000\n") && !t.complete && t.size == Int64(text.utf8.count))
        let small = LogTail.read(path: dir + "/out", lines: 200, bytes: 100)
        #expect(
            small.text.hasSuffix("line 1000\n") && !small.text.hasPrefix("ine")
                && small.text.split(separator: "\n").allSatisfy { $0.hasPrefix("line ") })
        let whole = LogTail.read(path: dir + "/out", lines: 5000, bytes: 1 << 20)
        #expect(whole.complete && whole.text == text)
        let missing = LogTail.read(path: dir + "/nothing", lines: 10, bytes: 100)
        #expect(missing.size == -1 && missing.text.isEmpty)
    }

    @Test("budgets: samples and log tails go to failed tasks first, then by peak RAM, and never exceed the budget")
    func budgets() throws {
        let dir = try TestSupport.temporaryDirectory("budget")
        let log = try EventLog(path: dir + "/clowdr.db", mode: .create)
        let f = EventFactory(clock: SteppingClock(), ids: SequentialIDSource())
        var e: [Event] = []
        for t in 0..<40 {
            let task = String(t)
            e.append(f.make(task: task, .taskPlanned(TaskPlanned(invocation: ["n": .number(JSONNumber(t))], commandLine: "run \(t)"))))
            e.append(f.make(task: task, attempt: 1, .taskStarted(TaskStarted(host: "h", pid: 1))))
            for k in 0..<10 {
                e.append(
                    f.make(
                        task: task, attempt: 1,
                        .sample(
                            Sample(
                                cpuUser: Double(k), cpuSystem: 0, rss: Int64(t * 1000 + k), vms: 0, readBytes: 0, writeBytes: 0, processes: 1,
                                threads: 1))))
            }
            e.append(
                f.make(
                    task: task, attempt: 1, .taskExited(TaskExited(exitCode: t == 3 ? 1 : 0, wallTime: 1, cpuUser: 1, peakRSS: Int64(t * 1000 + 9)))))
            try FileManager.default.createDirectory(atPath: "\(dir)/tasks", withIntermediateDirectories: true)
            try String(repeating: "x", count: 99).appending("\n").write(toFile: "\(dir)/tasks/\(task).1.stdout", atomically: false, encoding: .utf8)
        }
        try log.append(e)
        let data = try ReportData.build(
            experimentDirectory: dir, budget: ReportData.Budget(samplePoints: 100, pointsPerTask: 10, logBytes: 350, tailLines: 200, tailBytes: 1000))
        let detail = try JSONParser.parse(data.detail)
        guard case .object(let samples)? = detail["samples"], case .object(let logs)? = detail["logs"] else {
            Issue.record("no samples or logs")
            return
        }
        // 10 samples each: 100 points hold 10 tasks: the failed task 3, then by peak RAM 39, 38, ... 31.
        #expect(Set(samples.keys) == Set(["3"] + (31...39).map(String.init)), "\(samples.keys.sorted())")
        #expect(Set(logs.keys) == ["3", "39", "38"], "100 bytes each: 3 fit in 350")
        #expect(detail["budget"]?["sample_tasks"] == 10 && detail["budget"]?["log_tasks"] == 3)
        // Parameters with no labels: the invocation keys that differ between tasks.
        #expect(try JSONParser.parse(data.core)["params"] == ["n"])
    }
}
