import Backends
import Boutiques
import EventLog
import Foundation
import JSON
import Query
import Runner
import SQLite

/// `clowdr-bench report`: a synthetic experiment of N tasks (100,000 by default), its `clowdr export html` (time,
/// size), then the report loaded in headless Chromium: when it becomes interactive, when the detail is decoded,
/// how long sorting by peak RAM takes. Goals: under 20 MB, interactive in under 3 s.
func reportBenchmark() throws {
    let n = argument("--tasks", default: "100000")
    let dir = argument("--dir", default: NSTemporaryDirectory() + "clowdr-reportbench-\(getpid())")
    defer { if argument("--keep", default: "no") == "no" { try? FileManager.default.removeItem(atPath: dir) } }
    let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    func run(_ exe: String, _ args: [String]) throws -> (Double, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        let start = DispatchTime.now().uptimeNanoseconds
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, text)
    }
    let (synth, _) = try run(bin + "/clowdr-testkit", ["synth-experiment", "--dir", dir, "--tasks", n, "--samples", "50"])
    print("report benchmark: synthetic experiment of \(n) tasks x 50 samples written in \(String(format: "%.1f", synth)) s")
    let html = dir + "/report.html"
    let (export, _) = try run(bin + "/clowdr", ["export", "html", dir, "-o", html])
    let size = ((try? FileManager.default.attributesOfItem(atPath: html))?[.size] as? NSNumber)?.int64Value ?? 0
    print("  clowdr export html: \(String(format: "%.1f", export)) s, \(String(format: "%.1f", Double(size) / 1e6)) MB  [goal < 20 MB]")
    let script = argument("--check-page", default: "scripts/browser/check-page.py")
    guard FileManager.default.fileExists(atPath: script) else { return print("  (no \(script): browser figures skipped)") }
    for round in 1...3 {
        let (_, json) = try run(
            "/usr/bin/python3",
            [
                script, "file://" + html, "--timeout", "120",
                "--step",
                "sort_ms=(() => { const t = performance.now(); document.querySelector('th[data-key=rss] button').click(); return performance.now() - t; })()",
                "--step", "rows=document.getElementById('task-table').dataset.rows",
                "--step",
                "scroll_ms=(() => { const s = document.getElementById('table-scroll'); const t = performance.now(); s.scrollTop = 1300000; s.dispatchEvent(new Event('scroll')); return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now() - t)))); })()",
                "--step", "errors=document.getElementById('error-banner').hidden ? 0 : 1",
            ])
        guard let r = try? JSONParser.parse(json) else { return print("  browser run failed: \(json.prefix(300))") }
        func num(_ v: JSONValue?) -> String {
            if case .number(let x)? = v { return String(format: "%.0f", Double(x.literal) ?? 0) }
            return "?"
        }
        print(
            "  headless Chromium, run \(round): interactive at \(num(r["interactive_ms"])) ms (seen by the driver at \(num(r["ready_ms"])) ms), detail decoded at \(num(r["detail_ms"])) ms, sort by RAM \(num(r["results"]?["sort_ms"])) ms, scroll to row 50,000 \(num(r["results"]?["scroll_ms"])) ms; console errors \(r["console_errors"].map { JSONWriter().string($0) } ?? "?"), requests \(r["requests"].map { JSONWriter().string($0) }?.count ?? 0 > 0 ? JSONWriter().string(r["requests"]!) : "[]")  [goal: interactive < 3000 ms]"
        )
    }
}
