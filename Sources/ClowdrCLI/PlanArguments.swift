import ArgumentParser
import EventLog
import Foundation

/// How the tasks are planned and grouped: shared by `run`, `local` and `cluster`.
struct PlanArguments: ParsableArguments {
    @Flag(name: [.short, .long], help: "Run the first task only.")
    var dev = false

    @Flag(help: "Plan and record the tasks, launch nothing.")
    var setup = false

    @Flag(
        help: ArgumentHelp(
            "Also write each task's invocation as tasks/TASK.json, the original Clowdr's layout (for bosh exec launch, or to read).",
            discussion:
                "The log holds every invocation either way, and workers get theirs with their array; one file per task costs a cluster's filesystem a file of its quota each."
        ))
    var invocationFiles = false

    @Option(help: "A list-valued input to sweep: one task per value (repeatable: the cartesian product).")
    var sweep: [String] = []

    @Flag(name: [.short, .long], help: "One task per BIDS participant x session.")
    var bids = false

    @Option(
        help: ArgumentHelp(
            "The BIDS derivatives folder the tasks write (default with --bids: found from the outputs' paths).",
            discussion:
                "When the tasks have ended, its dataset_description.json is made or updated to say what generated it: the tool with its container's digest, clowdr with the experiment and where its record is, and the raw dataset."
        ))
    var derivatives: String?

    @Option(name: [.short, .long], help: "Group tasks N at a time into one job (cluster backends; no effect locally).")
    var groupby: Int?

    /// What a run records of these options (`experiment_created`'s options).
    var recorded: [String: String] {
        var r: [String: String] = [:]
        r[.dev] = String(dev)
        r[.setup] = String(setup)
        r[.bids] = String(bids)
        r[.sweep] = sweep.joined(separator: ",")
        r[.derivatives] = derivatives.map { $0.contains("://") ? $0 : URL(fileURLWithPath: $0).standardizedFileURL.path } ?? ""
        r[.groupby] = groupby.map(String.init) ?? ""
        return r
    }

    func validate() throws {
        if let groupby, groupby < 1 { throw ValidationError("--groupby must be at least 1, got \(groupby)") }
    }
}
