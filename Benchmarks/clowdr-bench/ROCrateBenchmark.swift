import Foundation

/// `clowdr-bench rocrate`: a synthetic experiment of N tasks (100,000 by default, 3% retried), then `clowdr export
/// rocrate` into a folder and into a zip, each timed with its peak resident memory (GNU time's maximum resident
/// set size of the process). Goals: under 60 s and under 300 MB at 100,000 tasks. Beside them, the same run's `clowdr
/// export prov` (the crate holds it, so the crate costs at least that) and `cp -r` of the experiment folder.
func rocrateBenchmark() throws {
    let n = argument("--tasks", default: "100000")
    let dir = argument("--dir", default: NSTemporaryDirectory() + "clowdr-rocratebench-\(getpid())")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    let experiment = dir + "/experiment"
    let synth = try sh("'\(bin)/clowdr-testkit' synth-experiment --dir '\(experiment)' --tasks \(n) --samples 5 >/dev/null")
    guard synth.status == 0 else { return print("rocrate benchmark: clowdr-testkit synth-experiment failed") }
    print("rocrate benchmark: synthetic experiment of \(n) tasks written in \(String(format: "%.1f", synth.seconds)) s")
    /// Runs `command` under GNU time: seconds and peak RSS in MB.
    func measured(_ label: String, _ command: String, goal: String) throws {
        let r = try sh("/usr/bin/time -f 'peak %M' \(command) 2>&1 >/dev/null | tail -1")
        let kb = Double(r.out.split(separator: " ").last.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0)
        print("  \(label): \(String(format: "%.1f", r.seconds)) s, peak \(String(format: "%.0f", kb / 1024)) MB  \(goal)")
    }
    try measured(
        "clowdr export rocrate (folder)", "'\(bin)/clowdr' export rocrate '\(experiment)' -o '\(dir)/crate'", goal: "[goal: < 60 s, < 300 MB]")
    let metadata = (try? FileManager.default.attributesOfItem(atPath: dir + "/crate/ro-crate-metadata.json"))?[.size] as? NSNumber
    let files = diskUse(dir + "/crate")
    print(
        "    ro-crate-metadata.json \(String(format: "%.0f", (metadata?.doubleValue ?? 0) / 1e6)) MB; crate \(files.files) files, \(String(format: "%.0f", Double(files.bytes) / 1e6)) MB"
    )
    try measured(
        "clowdr export rocrate (zip)", "'\(bin)/clowdr' export rocrate '\(experiment)' -o '\(dir)/crate.zip'", goal: "[goal: < 60 s, < 300 MB]")
    try measured("clowdr export prov (same run, part of the crate)", "'\(bin)/clowdr' export prov '\(experiment)' -o '\(dir)/p.json'", goal: "")
    try measured("cp -r of the experiment folder (same run)", "cp -r '\(experiment)' '\(dir)/copy'", goal: "")
}
