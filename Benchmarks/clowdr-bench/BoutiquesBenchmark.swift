import Backends
import Boutiques
import EventLog
import Foundation
import JSON
import Query
import Runner
import SQLite

/// Validate and render N invocations of fsl_bet (parsed from text, as from files), and time one
/// `bosh exec simulate` of the same descriptor in the same run when bosh is installed.
func boutiquesBenchmark() throws {
    let n = Int(argument("--invocations", default: "100000"))!
    let fixtures = argument("--fixtures", default: "../shared/fixtures/boutiques")
    let descriptorPath = fixtures + "/examples/fsl_bet/fsl_bet.json"
    guard FileManager.default.fileExists(atPath: descriptorPath) else {
        print("boutiques benchmark skipped: \(descriptorPath) is absent")
        return
    }
    let d = try DescriptorValidator.load(descriptorPath)
    let renderer = Renderer(d, workingDirectory: FileManager.default.currentDirectoryPath)
    // N distinct invocations: every optional input of fsl_bet varied, as a sweep over subjects would.
    var rng = SplitMix64(seed: 42)
    var texts: [String] = []
    texts.reserveCapacity(n)
    for k in 0..<n {
        var inv: JSONObject = ["infile": .string("sub-\(k)/anat/sub-\(k)_T1w.nii.gz"), "maskfile": .string("out/sub-\(k)_brain")]
        inv["fractional_intensity"] = .number(JSONNumber(Double(rng.next() % 1000) / 1000))
        inv["vg_fractional_intensity"] = .number(JSONNumber(Double(Int(rng.next() % 2000) - 1000) / 1000))
        if rng.next() % 2 == 0 { inv["center_of_gravity"] = [.number(JSONNumber(Int(rng.next() % 100))), 10, -5] }
        for flag in ["overlay_flag", "binary_mask_flag", "approx_skull_flag", "no_seg_output_flag", "verbose_flag"] where rng.next() % 3 == 0 {
            inv[flag] = true
        }
        if rng.next() % 4 == 0 { inv["head_radius"] = .number(JSONNumber(Double(rng.next() % 150) + 0.5)) }
        texts.append(JSONWriter().string(.object(inv)))
    }
    var bytes = 0
    let start = DispatchTime.now().uptimeNanoseconds
    for t in texts {
        let r = try renderer.render(try BoutiquesDocument.parse(t, file: nil))
        bytes += r.commandLine.utf8.count
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let us = seconds / Double(n) * 1e6
    // Where the time goes: parsing alone, then parsing and validating (adding defaults).
    let t1 = DispatchTime.now().uptimeNanoseconds
    var parsed: [JSONValue] = []
    parsed.reserveCapacity(n)
    for t in texts { parsed.append(try BoutiquesDocument.parse(t, file: nil)) }
    let t2 = DispatchTime.now().uptimeNanoseconds
    var validated: [JSONObject] = []
    validated.reserveCapacity(n)
    for v in parsed { validated.append(try renderer.validator.validate(v)) }
    let t3 = DispatchTime.now().uptimeNanoseconds
    for v in validated { _ = try renderer.render(validated: v) }
    let t4 = DispatchTime.now().uptimeNanoseconds
    func per(_ a: UInt64, _ b: UInt64) -> String { String(format: "%.2f", Double(b - a) / 1e3 / Double(n)) }
    print("boutiques benchmark: \(n) fsl_bet invocations parsed, validated (schema, groups, requires/disables) and rendered")
    print(
        "  clowdr: \(String(format: "%.2f", us)) us per invocation (\(String(format: "%.2f", seconds)) s in all, \(bytes / n) bytes per command line)  [goal < 20 us]"
    )
    print("    of which: parse \(per(t1, t2)) us, validate \(per(t2, t3)) us, render (outputs, command line) \(per(t3, t4)) us")
    let bosh = argument("--bosh", default: "")
    if !bosh.isEmpty, FileManager.default.isExecutableFile(atPath: bosh) {
        let dir = NSTemporaryDirectory() + "clowdr-bosh-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try texts[0].write(toFile: dir + "/inv.json", atomically: true, encoding: .utf8)
        var best = Double.infinity
        for _ in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: bosh)
            p.arguments = ["exec", "simulate", URL(fileURLWithPath: descriptorPath).path, "-i", dir + "/inv.json"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            let t0 = DispatchTime.now().uptimeNanoseconds
            try p.run()
            p.waitUntilExit()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            if p.terminationStatus != 0 { print("  bosh exec simulate failed (exit \(p.terminationStatus))") }
        }
        print(
            "  bosh exec simulate (one call, best of 3): \(String(format: "%.3f", best)) s = \(String(format: "%.0f", best * 1e6 / us))x clowdr's time per invocation"
        )
    } else {
        print("  bosh not given (--bosh PATH): no peer figure")
    }
}
