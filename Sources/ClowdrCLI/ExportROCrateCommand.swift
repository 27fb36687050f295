import ArgumentParser
import EventLog
import Export

/// `clowdr export rocrate EXPERIMENT [-o DIR|FILE.zip] [--with-data] [--license ID|URL] [--publisher NAME]`.
struct ExportROCrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rocrate",
        abstract: "The record as a Workflow Run RO-Crate (Provenance Run Crate 0.5), a folder or a .zip.",
        discussion: """
            The descriptor is the crate's main workflow; the experiment a run of it; each attempt a CreateAction of \
            the tool with its inputs (invocation values, declared and observed files with sha256), outputs with \
            sha256, times, status and error, user, host and container image (digest), and resource usage with \
            units; reruns link to the attempts they replace. The descriptor, the invocations, the log and the JSON \
            and PROV exports are files of the crate; outputs are referenced by file:// path, or copied in with \
            --with-data. WorkflowHub and Zenodo read it; docs/provenance.md shows an excerpt.
            """)

    @OptionGroup var target: ExperimentArgument

    @Option(name: .shortAndLong, help: "The folder to write, or FILE.zip (default: ./clowdr-<experiment>.crate).")
    var output: String?

    @Flag(help: "Copy the outputs of each task's latest attempt into the crate, under data/.")
    var withData = false

    @OptionGroup var crate: CrateArguments

    func validate() throws {
        if output == "-" { throw ValidationError("-o -: a crate is a folder or a .zip, not a stream; give a path") }
    }

    func run() throws {
        let layout = try target.layout()
        let options = crate.options(withData: withData)
        try ExportOutput.write(to: output, default: "clowdr-\(layout.id).crate") {
            let line = ProgressLine()
            defer { line.end() }
            try ROCrateExport.write(experimentDirectory: layout.directory, to: $0, options: options) { step in
                line.show("clowdr: export rocrate: \(step.what) (step \(step.number) of \(step.count))", now: true)
            }
        }
    }
}
