import Foundation
import Runner

/// `clowdr-bench trace`: what observing files costs. Three tools, each run as a one-task `clowdr run` with
/// `--trace-files on` and `off` in turn (A B A B, medians), beside the same tool bare, under `strace -f -o FILE` and
/// under `reprozip trace` (when `--reprozip PATH` is given): a CPU-bound tool, a Python tool importing 1,000
/// modules, a Python tool reading 10,000 small files. Then the record's growth: attempts of a tool that reads 2,000
/// files (1,900 the same in every attempt, 100 its own), bytes of log per attempt after the first, and how long the
/// questions take.
func traceBenchmark() throws {
    let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    let given = argument("--reprozip", default: "")
    let reprozip = given.isEmpty ? "" : URL(fileURLWithPath: given).standardizedFileURL.path  // the tools run in another folder
    let rounds = Int(argument("--rounds", default: "5")) ?? 5
    let dir = NSTemporaryDirectory() + "clowdr-tracebench-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir + "/files", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    func f(_ x: Double, _ d: Int = 3) -> String { String(format: "%.\(d)f", x) }
    let python = try sh("command -v python3").out.trimmingCharacters(in: .whitespacesAndNewlines)
    let realPython = try sh("\(python) -c 'import sys; print(sys.executable)'").out.trimmingCharacters(in: .whitespacesAndNewlines)
    emit("trace benchmark: file tracing by \(Shim.path ?? "(no clowdr-shim)"), \(rounds) alternating rounds, medians")

    // The tools.
    try FileManager.default.createDirectory(atPath: dir + "/pkg", withIntermediateDirectories: true)
    try "".write(toFile: dir + "/pkg/__init__.py", atomically: true, encoding: .utf8)
    for k in 0..<1000 { try "X = \(k)\n".write(toFile: dir + "/pkg/m\(k).py", atomically: true, encoding: .utf8) }
    try (0..<1000).map { "import pkg.m\($0)" }.joined(separator: "\n").write(toFile: dir + "/imports.py", atomically: true, encoding: .utf8)
    for k in 0..<10_000 { try "\(k)\n".write(toFile: dir + "/files/f\(k)", atomically: true, encoding: .utf8) }
    try "import os\nfor n in range(10000):\n    open('files/f%d' % n).read()\n".write(toFile: dir + "/reads.py", atomically: true, encoding: .utf8)
    try "s = 0\nfor i in range(12000000):\n    s += i\n".write(toFile: dir + "/cpu.py", atomically: true, encoding: .utf8)
    _ = try sh("cd \(dir) && \(realPython) imports.py")  // compiled once, as a second run finds it

    let tools = [
        ("CPU-bound (Python loop)", "cpu.py", 0.01), ("Python importing 1,000 modules", "imports.py", 0.10),
        ("reading 10,000 small files", "reads.py", 0.50),
    ]
    for (name, script, goal) in tools {
        let command = "\(realPython) \(script)"
        try
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"\#(command) #[N]","inputs":[{"id":"n","name":"n","type":"Number","integer":true,"value-key":"[N]"}]}"#
            .write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        try #"{"n": 1}"#.write(toFile: dir + "/i.json", atomically: true, encoding: .utf8)
        func clowdr(_ trace: String) throws -> Double {
            let r = try sh("cd \(dir) && \(bin)/clowdr run d.json i.json --provdir prov -w \(dir) -q -j 1 --trace-files \(trace) >/dev/null")
            precondition(r.status == 0, "clowdr run failed")
            return r.seconds
        }
        var on: [Double] = []
        var off: [Double] = []
        var bare: [Double] = []
        var strace: [Double] = []
        var rz: [Double] = []
        for _ in 0..<rounds {
            on.append(try clowdr("on"))
            off.append(try clowdr("off"))
            bare.append(try sh("cd \(dir) && \(command)").seconds)
            strace.append(try sh("cd \(dir) && strace -f -o \(dir)/strace.out \(command)").seconds)
            if !reprozip.isEmpty {
                rz.append(try sh("cd \(dir) && rm -rf .rz && \(reprozip) trace -d .rz --dont-identify-packages \(command) >/dev/null 2>&1").seconds)
            }
        }
        func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }
        let added = median(on) - median(off)
        let overhead = added / median(off)
        var line =
            "  \(name): clowdr traced \(f(median(on))) s, untraced \(f(median(off))) s: overhead \(f(overhead * 100, 1))% [goal <= \(f(goal * 100, 0))%]; bare \(f(median(bare))) s, strace -f -o \(f(median(strace))) s (+\(f(median(strace) - median(bare))) s)"
        if !rz.isEmpty { line += ", reprozip trace \(f(median(rz))) s (+\(f(median(rz) - median(bare))) s)" }
        if added > 0 {
            line += "; strace adds \(f((median(strace) - median(bare)) / added, 1))x what clowdr's tracing adds"
            if !rz.isEmpty { line += ", reprozip \(f((median(rz) - median(bare)) / added, 1))x" }
            line += " [goal >= 5x]"
        }
        emit(line)
        try? FileManager.default.removeItem(atPath: dir + "/prov")
    }
    try recordGrowth(dir: dir, bin: bin)
}

/// Attempts of a C tool that reads 1,900 files every attempt reads and 100 of its own: the log's bytes per attempt
/// after the first, and the time of `query --files`.
func recordGrowth(dir: String, bin: String) throws {
    let attempts = Int(argument("--attempts", default: "200")) ?? 200
    try FileManager.default.createDirectory(atPath: dir + "/lib", withIntermediateDirectories: true)
    for k in 0..<1900 { try "lib \(k)\n".write(toFile: dir + "/lib/l\(k)", atomically: true, encoding: .utf8) }
    for t in 0..<attempts {
        try FileManager.default.createDirectory(atPath: dir + "/data/s\(t)", withIntermediateDirectories: true)
        for k in 0..<100 { try "subject \(t) file \(k)\n".write(toFile: dir + "/data/s\(t)/d\(k)", atomically: true, encoding: .utf8) }
    }
    let source = """
        #include <fcntl.h>
        #include <stdio.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            char name[256], b[64];
            for (int i = 0; i < 2000; i++) {
                if (i < 1900) snprintf(name, sizeof name, "lib/l%d", i);
                else snprintf(name, sizeof name, "data/s%s/d%d", argv[1], i - 1900);
                int fd = open(name, O_RDONLY);
                if (fd < 0 || read(fd, b, sizeof b) < 0) return 1;
                close(fd);
            }
            return 0;
        }
        """
    try source.write(toFile: dir + "/reader.c", atomically: true, encoding: .utf8)
    guard try sh("cc -O2 -o \(dir)/reader \(dir)/reader.c").status == 0 else {
        emit("  record growth: no C compiler, not measured")
        return
    }
    try
        #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"\#(dir)/reader [N]","inputs":[{"id":"n","name":"n","type":"Number","integer":true,"value-key":"[N]"}]}"#
        .write(toFile: dir + "/g.json", atomically: true, encoding: .utf8)
    try "{\"n\": [0]}".write(toFile: dir + "/one.json", atomically: true, encoding: .utf8)
    try "{\"n\": [\((0..<attempts).map(String.init).joined(separator: ","))]}".write(toFile: dir + "/all.json", atomically: true, encoding: .utf8)
    let r = try sh("cd \(dir) && \(bin)/clowdr run g.json all.json --sweep n --provdir gprov -w \(dir) -q -j 2 >/dev/null")
    precondition(r.status == 0, "clowdr run failed")
    let experiment = try FileManager.default.contentsOfDirectory(atPath: dir + "/gprov").sorted().last!
    let log = dir + "/gprov/" + experiment + "/clowdr.db"
    _ = try sh("\(bin)/clowdr fsck \(log) >/dev/null")  // checkpoints the WAL into the log
    let sizes = try sh(
        "sqlite3 \(log) \"SELECT sum(length(payload)), max(length(payload)), min(length(payload)), count(*) FROM events WHERE type = 'task_files'\""
    ).out.split(separator: "|").map { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
    let perAttempt = (sizes[0] - sizes[1]) / max(sizes[3] - 1, 1)
    let query = try sh("\(bin)/clowdr query \(dir)/gprov/\(experiment) --files \(attempts - 1) --format tsv > /dev/null")
    emit(
        String(
            format:
                "  record: %d attempts reading 2,000 files (1,900 shared): task_files %.1f KB per attempt after the first (largest %.0f KB, smallest %.1f KB)  [goal <= 5 KB]; query --files %.3f s  [goal < 1 s]; %.1f s for the run",
            attempts, perAttempt / 1e3, sizes[1] / 1e3, sizes[2] / 1e3, query.seconds, r.seconds))
}
