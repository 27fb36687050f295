import ArgumentParser

/// How the tasks are planned and grouped: shared by `run`, `local` and `cluster`.
struct PlanArguments: ParsableArguments {
    @Flag(name: [.short, .long], help: "Run the first task only.")
    var dev = false

    @Flag(help: "Plan and record the tasks, launch nothing.")
    var setup = false

    @Option(help: "A list-valued input to sweep: one task per value (repeatable: the cartesian product).")
    var sweep: [String] = []

    @Flag(name: [.short, .long], help: "One task per BIDS participant x session.")
    var bids = false

    @Option(name: [.short, .long], help: "Group tasks N at a time into one job (cluster backends; no effect locally).")
    var groupby: Int?

    func validate() throws {
        if let groupby, groupby < 1 { throw ValidationError("--groupby must be at least 1, got \(groupby)") }
    }
}
