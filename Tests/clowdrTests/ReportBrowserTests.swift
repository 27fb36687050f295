import EventLog
import Foundation
import JSON
import SQLite
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The report in a real browser: headless Chromium (Debian's `chromium`, which `make test` installs) driven over
/// the DevTools protocol by `scripts/browser/check-page.py`. Assertions go through the DOM; a screenshot of each
/// page is kept in `.build/artifacts/`.
@Suite(
    "the report in headless Chromium", .serialized,
    .enabled(if: Chromium.path != nil, "needs Debian's chromium (make test installs it)"),
    .enabled(if: TestSupport.binary("clowdr") != nil && TestSupport.binary("clowdr-testkit") != nil, "build clowdr first (swift build)"))
struct ReportBrowserTests {
    let clowdr = TestSupport.binary("clowdr") ?? "clowdr"

    static var artifacts: String {
        let dir = TestSupport.repositoryRoot + "/.build/artifacts"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Loads `url`, runs the steps (name, JavaScript), and returns the driver's JSON answer.
    func check(_ url: String, steps: [(String, String)], screenshot: String, window: (Int, Int)? = nil) throws -> JSONValue {
        var args = [
            TestSupport.repositoryRoot + "/scripts/browser/check-page.py", url, "--screenshot", Self.artifacts + "/" + screenshot, "--timeout", "60",
        ]
        if let (width, height) = window { args += ["--width", String(width), "--height", String(height)] }
        for (name, js) in steps { args += ["--step", "\(name)=\(js)"] }
        let out = try TestSupport.run("/usr/bin/env", ["python3"] + args)
        let result = try JSONParser.parse(out.stdout)
        #expect(out.status == 0, "the driver says: \(result["error"] ?? "?") \(out.stderr)")
        return result
    }

    /// No console error, uncaught exception or error log entry (CSP violations and failed loads are logged).
    func expectClean(_ r: JSONValue) {
        #expect(r["console_errors"] == [], "console errors: \(r["console_errors"] ?? .null)")
        #expect(r["exceptions"] == [], "exceptions: \(r["exceptions"] ?? .null)")
        #expect(r["log_errors"] == [], "log errors: \(r["log_errors"] ?? .null)")
    }

    func item(_ v: JSONValue?, _ k: Int) -> JSONValue? {
        guard case .array(let a)? = v, a.indices.contains(k) else { return nil }
        return a[k]
    }

    func int(_ v: JSONValue?) -> Int? {
        switch v {
        case .number(let n)?: Int(n.literal)
        case .string(let s)?: Int(s)
        default: nil
        }
    }

    @Test(
        "at a common window size (1366x768): no header value cut, no label of the RAM or CPU plot over another, every failed task's failure worded as status words it"
    )
    func layoutAtCommonSize() throws {
        let dir = try TestSupport.temporaryDirectory("report-layout")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let synth = try TestSupport.run(
            TestSupport.binary("clowdr-testkit")!, ["synth-experiment", "--dir", dir + "/exp", "--tasks", "40", "--samples", "20"])
        #expect(synth.status == 0, "\(synth.stderr)")
        #expect(try TestSupport.run(clowdr, ["export", "html", dir + "/exp", "-o", dir + "/report.html"]).status == 0)
        let r = try check(
            "file://" + dir + "/report.html",
            steps: [
                (
                    "cut",
                    "[...document.querySelectorAll('#facts dd')].filter(d => d.scrollWidth > d.clientWidth + 1 || d.scrollHeight > d.clientHeight + 1).map(d => d.textContent)"
                ),
                (
                    "as_of",
                    "[...document.querySelectorAll('#facts div')].find(d => d.querySelector('dt').textContent === 'as of').querySelector('dd').textContent"
                ),
                (
                    "plot",
                    "(document.getElementById('plot-top').click(), new Promise(r => setTimeout(() => r(document.getElementById('ram-plot').dataset.series), 300)))"
                ),
                ("ram_overlaps", "JSON.parse(document.getElementById('ram-plot').dataset.overlaps)"),
                ("cpu_overlaps", "JSON.parse(document.getElementById('cpu-plot').dataset.overlaps)"),
                (
                    "failures",
                    "(() => { const t = window.clowdrReport.state.core.tasks, f = window.clowdrReport.state.core.states.indexOf('failed'); return t.id.filter((id, i) => t.state[i] === f).map((id, i) => t.reason[t.id.indexOf(id)]); })()"
                ),
            ], screenshot: "report-1366x768.png", window: (1366, 768))
        expectClean(r)
        let res = r["results"] ?? .null
        #expect(res["cut"] == [], "header values cut: \(res["cut"] ?? .null)")
        #expect(res["as_of"]?.stringValue?.hasSuffix(")") == true, "\(res["as_of"] ?? .null)")
        #expect((int(res["plot"]) ?? 0) > 0, "tasks plotted")
        #expect(
            res["ram_overlaps"] == [] && res["cpu_overlaps"] == [],
            "labels over each other: \(res["ram_overlaps"] ?? .null) \(res["cpu_overlaps"] ?? .null)")
        guard case .array(let failures)? = res["failures"] else {
            Issue.record("no failures column: \(res)")
            return
        }
        #expect(
            !failures.isEmpty && failures.allSatisfy { ($0.stringValue ?? "").hasPrefix("exit ") || ($0.stringValue ?? "").hasPrefix("signal ") },
            "\(failures)")
    }

    @Test("export html of 300 tasks: every row, sorting by RAM, one Gantt bar per attempt, filters, detail, CSV, SVG; no error, no request")
    func staticReport() throws {
        let dir = try TestSupport.temporaryDirectory("report")
        let synth = try TestSupport.run(
            TestSupport.binary("clowdr-testkit")!, ["synth-experiment", "--dir", dir + "/exp", "--tasks", "300", "--samples", "20"])
        #expect(synth.status == 0, "\(synth.stderr)")
        let export = try TestSupport.run(clowdr, ["export", "html", dir + "/exp", "-o", dir + "/report.html"])
        #expect(export.status == 0 && export.stdout == dir + "/report.html\n", "\(export.stderr)")

        let db = try Connection(path: dir + "/exp/clowdr.db", mode: .readOnly)
        let attempts = Int(try db.scalar("SELECT count(*) FROM attempts")?.int64 ?? 0)
        let failed = Int(try db.scalar("SELECT count(*) FROM tasks WHERE state = 'failed'")?.int64 ?? 0)
        let maxRSS = try db.scalar("SELECT max(peak_rss) FROM attempts a JOIN tasks t ON t.task = a.task AND t.attempts = a.attempt")?.int64
        let failedTask = try db.scalar("SELECT task FROM tasks WHERE state = 'failed' ORDER BY CAST(task AS INTEGER) LIMIT 1")?.string ?? ""
        #expect(attempts > 300 && failed > 0, "the fixture has reruns and failures")

        let url = "file://" + dir + "/report.html"
        let r = try check(
            url,
            steps: [
                ("rows", "document.getElementById('task-table').dataset.rows"),
                ("rowcount", "document.getElementById('task-table').getAttribute('aria-rowcount')"),
                ("bars", "document.getElementById('gantt').dataset.bars"),
                ("states", "[...document.querySelectorAll('#counts .chip[data-state]')].map(c => c.dataset.state + '=' + (c.dataset.count || ''))"),
                (
                    "by_ram",
                    "(document.querySelector('th[data-key=rss] button').click(), [...document.querySelectorAll('#task-body tr.row td[data-col=rss]')].map(td => td.dataset.value === '' ? null : Number(td.dataset.value)))"
                ),
                ("sort_state", "document.querySelector('th[data-key=rss]').getAttribute('aria-sort')"),
                ("hash", "location.hash"),
                (
                    "failed_rows",
                    "(() => { const s = document.getElementById('f-state'); s.value = 'failed'; s.dispatchEvent(new Event('change')); return document.getElementById('task-table').dataset.rows; })()"
                ),
                ("csv_lines", "window.clowdrReport.csv().trim().split('\\n').length"),
                ("csv_header", "window.clowdrReport.csv().split('\\n')[0]"),
                (
                    "detail",
                    "(window.clowdrReport.selectTask(window.clowdrReport.state.core.tasks.id.indexOf('\(failedTask)'), {plot: 'only'}), new Promise(r => setTimeout(() => r(document.querySelector('#detail pre[aria-label=stderr]')?.textContent), 300)))"
                ),
                ("command", "document.querySelector('#detail pre[aria-label=\"command line\"]')?.textContent"),
                ("legend", "document.getElementById('plot-legend').textContent"),
                ("sha256", "[...document.querySelectorAll('#detail table.outputs code')].map(c => c.textContent.length)"),
                ("plotted", "document.getElementById('ram-plot').dataset.series"),
                (
                    "svg",
                    "(() => { const s = window.clowdrReport.svg('gantt'); return [s.startsWith('<svg'), (s.match(/<rect /g) || []).length]; })()"
                ),
                ("svg_ram", "window.clowdrReport.svg('ram').includes('<polyline')"),
                (
                    "tooltip",
                    "(() => { const c = document.getElementById('gantt'), b = c.getBoundingClientRect(); c.dispatchEvent(new MouseEvent('mousemove', {clientX: b.left + b.width / 2, clientY: b.top + 10, bubbles: true})); const t = document.getElementById('tooltip'); return t.hidden ? null : t.textContent; })()"
                ),
                ("error_banner", "document.getElementById('error-banner').hidden"),
            ], screenshot: "report-static.png")
        expectClean(r)
        #expect(r["requests"] == [.string(url)], "the page asked for nothing but itself: \(r["requests"] ?? .null)")
        let res = r["results"] ?? .null
        #expect(int(res["rows"]) == 300 && int(res["rowcount"]) == 301, "\(res["rows"] ?? .null)")
        #expect(int(res["bars"]) == attempts, "one bar per attempt: \(res["bars"] ?? .null) vs \(attempts)")
        #expect(res["states"]?.description.contains("failed=\(failed)") == true, "\(res["states"] ?? .null)")
        guard case .array(let byRAM)? = res["by_ram"] else {
            Issue.record("no RAM column: \(res)")
            return
        }
        let values = byRAM.compactMap { v -> Int64? in if case .number(let n) = v { return Int64(n.literal) } else { return nil } }
        #expect(values.count >= 15, "the visible rows")
        #expect(values == values.sorted(by: >), "sorted by peak RAM, highest first: \(values.prefix(5))")
        #expect(values.first == maxRSS, "the first row has the highest peak RAM")
        #expect(res["sort_state"] == "descending" && res["hash"] == "#sort=rss:desc")
        #expect(int(res["failed_rows"]) == failed)
        #expect(int(res["csv_lines"]) == failed + 1, "header + one line per visible row")
        #expect(res["csv_header"] == "Task,Labels,State,Attempts,Exit,Duration,Peak RAM,CPU,Failure reason", "the labels column is shown by default")
        #expect(
            res["legend"]?.stringValue?.contains("(participant=") == true,
            "the plot legend names the task by its labels: \(res["legend"]?.stringValue ?? "none")")
        #expect(res["detail"]?.description.contains("MemoryError") == true, "the failed task's stderr tail: \(res["detail"] ?? .null)")
        #expect(res["command"]?.description.contains("fmriprep /data/ds004215") == true)
        #expect(int(item(res["sha256"], 0)) == 64, "outputs with their sha256: \(res["sha256"] ?? .null)")
        #expect(int(res["plotted"]) == 1, "the selected task in the plots")
        #expect(item(res["svg"], 0) == true && (int(item(res["svg"], 1)) ?? 0) >= attempts, "\(res["svg"] ?? .null)")
        #expect(res["svg_ram"] == true)
        #expect(res["tooltip"]?.description.contains("task ") == true, "hovering a bar shows its attempt: \(res["tooltip"] ?? .null)")
        #expect(res["error_banner"] == true)
        #expect(FileManager.default.fileExists(atPath: Self.artifacts + "/report-static.png"))
    }

    @Test(
        "clowdr share while an experiment runs: the page shows each change pushed (within 1 s here; the 200 ms goal is clowdr-bench share's) and ends with every task; read-only routes"
    )
    func liveShare() throws {
        let dir = try TestSupport.temporaryDirectory("share")
        let d =
            #"{"name":"sleeper","tool-version":"1","description":"d","schema-version":"0.5","command-line":"sleep [T]; echo slept [T]","inputs":[{"id":"t","name":"t","type":"Number","value-key":"[T]"}]}"#
        try d.write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"t":[1,1,1,1,1,1,1,1]}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        let run = Process()
        run.executableURL = URL(fileURLWithPath: clowdr)
        run.arguments = ["run", dir + "/d.json", dir + "/i.json", "--provdir", dir + "/prov", "--sweep", "t", "-j", "2", "-w", dir]
        run.standardOutput = FileHandle.nullDevice
        try run.run()
        defer { if run.isRunning { run.terminate() } }

        let share = Process()
        share.executableURL = URL(fileURLWithPath: clowdr)
        share.arguments = ["share", dir + "/prov", "--port", "0"]
        let out = Pipe()
        share.standardOutput = out
        // The PROVDIR exists once the run has created its experiment.
        var id: String?
        for _ in 0..<200 {
            id = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/prov"))?.first { !$0.hasSuffix(".creating") }
            if id != nil { break }
            usleep(25_000)
        }
        guard let id else {
            Issue.record("the run created no experiment")
            return
        }
        try share.run()
        defer { kill(share.processIdentifier, SIGKILL) }  // never outlives the test, whatever happens to it
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        // "serving http://127.0.0.1:PORT/?token=SECRET  (...)": the address to open, with the share's secret.
        guard let url = String(decoding: line, as: UTF8.self).split(separator: " ").dropFirst().first.map(String.init),
            url.hasPrefix("http://127.0.0.1:"), let q = url.firstIndex(of: "?")
        else {
            Issue.record("clowdr share printed no address with its secret: \(String(decoding: line, as: UTF8.self))")
            return
        }
        let base = String(url[..<q])
        let token = String(url[url.index(after: q)...].dropFirst("token=".count))
        let r = try check(
            base + "e/\(id)/?token=\(token)",
            steps: [
                ("all_done", "wait:document.querySelector('#counts [data-state=succeeded]')?.dataset.count === '8'"),
                ("rows", "document.getElementById('task-table').dataset.rows"),
                ("bars", "document.getElementById('gantt').dataset.bars"),
                ("badge", "document.getElementById('live-badge').textContent"),
            ], screenshot: "report-live.png")
        run.waitUntilExit()
        #expect(run.terminationStatus == 0)
        expectClean(r)
        let res = r["results"] ?? .null
        #expect(res["all_done"] == true && int(res["rows"]) == 8 && int(res["bars"]) == 8, "\(res)")
        #expect(res["badge"]?.description.contains("live") == true)
        guard case .array(let requests)? = r["requests"] else { return }
        #expect(requests.allSatisfy { $0.description.contains(base) }, "only its own server: \(requests)")

        // How long after each event the page showed it: the driver's time of each new seq against the events' times.
        let db = try Connection(path: dir + "/prov/\(id)/clowdr.db", mode: .readOnly)
        var worst = 0.0
        var previous: Int64 = 0
        if case .array(let changes)? = r["seq_changes"] {
            previous = Int64(int(item(changes.first, 1)) ?? 0)  // what the page showed when it became ready
            for change in changes.dropFirst() {
                guard case .number(let at)? = item(change, 0), let seq = int(item(change, 1)).map(Int64.init), var seen = Double(at.literal) else {
                    continue
                }
                // When the page itself showed it (its clock, in ms), rather than when the driver looked.
                if let shown = item(change, 2)?.stringValue.flatMap(Double.init) { seen = shown / 1000 }
                let first = try db.scalar("SELECT min(time) FROM events WHERE seq > ? AND seq <= ?", [.integer(previous), .integer(seq)])?.int64
                if let first { worst = max(worst, seen - Double(first) / 1e6) }
                previous = seq
            }
            #expect(changes.count >= 3, "the page updated several times while the run went on: \(changes.count)")
        }
        print("clowdr share: the page showed new events at most \(String(format: "%.0f", worst * 1000)) ms after they were written")
        // The goal is 200 ms, measured by `clowdr-bench share` (docs/report.md). Here the suite's other services share
        // the two cores (a worst of 326 ms was seen once under make test's Slurm and moto suites): a figure, not a
        // timing assertion, beyond making sure the changes come while the run goes on.
        #expect(worst < 1.0, "shown within a second of new events (worst \(worst) s)")

        let index = try TestSupport.run("/usr/bin/curl", ["-s", "-H", "Authorization: Bearer \(token)", base]).stdout
        #expect(index.contains("/e/\(id)/"), "the index lists the experiment")
    }
}

/// Debian's Chromium, when installed.
enum Chromium {
    static var path: String? {
        ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
