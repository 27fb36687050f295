import AWS
import ArgumentParser
import EventLog
import Export
import Foundation
import Runner

/// `clowdr archive EXPERIMENT --into DIR`, and `clowdr archive --verify FILE`.
struct ArchiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Put an experiment's record in one .tar.gz beside the derivatives, or check such an archive.",
        discussion: """
            The archive is an RO-Crate (clowdr export rocrate's): a consistent snapshot of the log (taken while it \
            may be written), the descriptor, every invocation and every attempt's stdout and stderr, the JSON and \
            PROV exports, the HTML report, and a MANIFEST with the sha256 of every member. It is written under a \
            temporary name and renamed. Unpacked, `clowdr query` and `clowdr status` work on it. Into a BIDS \
            dataset (the derivatives), it goes to the dataset's code/clowdr/, where BIDS keeps what made the data.
            """)

    @Argument(help: "The experiment folder (or PROVDIR: its newest experiment); with --verify, the archive.")
    var target: String

    @Option(
        help:
            "Folder to write clowdr-<experiment>.tar.gz into (default: the current folder; a BIDS dataset's code/clowdr/), or an S3 folder (s3://BUCKET/PREFIX) to upload it to."
    )
    var into: String?

    @OptionGroup(title: "The crate (the archive is one)") var crate: CrateArguments

    @OptionGroup(title: "AWS (with --into s3://...)") var aws: AWSArguments

    @Flag(help: "Check an archive against its MANIFEST.")
    var verify = false

    @Flag(help: "Say what was written (or found) as one JSON object on standard output.")
    var json = false

    func validate() throws {
        if verify && into != nil { throw ValidationError("give either --into DIR (to write an archive) or --verify (to check one), not both") }
    }

    func run() throws {
        if verify {
            let v: Archive.Verification
            do { v = try Archive.verify(target) } catch { throw CLIError.usage("\(error)") }
            if json {
                print(JSONOutput.line(["archive": target, "members": v.members, "problems": v.problems, "ok": v.ok]))
            } else {
                for p in v.problems { print(p) }
                print(v.ok ? "\(target): \(v.members) members, every sha256 matches MANIFEST" : "\(target): \(v.problems.count) problems")
            }
            if !v.ok { throw ExitCode(1) }
            return
        }
        let layout: ExperimentLayout
        do { layout = try ExperimentLayout.locate(target) } catch { throw ValidationError("\(error)") }
        let into = self.into ?? "."
        let line = ProgressLine()
        defer { line.end() }
        let progress = { (step: ROCrateExport.Step) in line.show("clowdr: archive: \(step.what) (step \(step.number) of \(step.count))", now: true) }
        guard let destination = S3Location(into) else {
            report(
                try Archive.create(experimentDirectory: layout.directory, into: into, options: crate.options(), progress: progress),
                experiment: layout)
            return
        }
        // Written whole on this machine first, then uploaded (in parts, in parallel): the object appears complete.
        let staging = NSTemporaryDirectory() + "clowdr-archive-\(getpid())"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let file = try Archive.create(experimentDirectory: layout.directory, into: staging, options: crate.options(), progress: progress)
        line.show("clowdr: archive: uploading to \(destination)", now: true)
        let target = destination.appending((file as NSString).lastPathComponent)
        try S3Client(configuration: try aws.configuration()).upload(file: file, to: target)
        report(target.description, experiment: layout)
    }

    /// Where the archive is: its path, or with --json `{"archive": ..., "experiment": ...}`.
    func report(_ archive: String, experiment layout: ExperimentLayout) {
        print(json ? JSONOutput.line(["archive": archive, "experiment": layout.id]) : archive)
    }
}
