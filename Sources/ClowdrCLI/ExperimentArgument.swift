import AWS
import ArgumentParser
import Backends
import EventLog
import Foundation

/// The experiment a command reads, named the same way by every command: an experiment folder, its clowdr.db, or a
/// PROVDIR (its newest experiment); `provdir` in the current folder when not given.
struct ExperimentArgument: ParsableArguments {
    @Argument(help: "The experiment: its folder (PROVDIR/<experiment-id>), its clowdr.db, or a PROVDIR (its newest experiment).")
    var experiment = "provdir"

    /// The experiment's files; a usage error (exit 2) naming the path when there is none. First, what its
    /// workers wrote since the last look is ingested (`ingesting`), so every command reads the record up to now.
    func layout(ingesting: Bool = true) throws -> ExperimentLayout {
        let layout: ExperimentLayout
        if let remote = S3Location(experiment) {
            // An S3 PROVDIR's experiments are read from the local cache the run kept them in.
            let local = CloudRecord.cacheFolder(for: remote)
            do { layout = try ExperimentLayout.locate(local) } catch {
                throw ValidationError(
                    "\(experiment) is on S3: clowdr reads its experiments from the local cache \(local), and finds none there; run this on the machine that ran it, or copy the experiment's folder from S3 into \(local)"
                )
            }
        } else {
            do { layout = try ExperimentLayout.locate(experiment) } catch { throw ValidationError("\(error)") }
        }
        if ingesting { try Self.ingestNewSegments(layout) }
        return layout
    }

    static func ingestNewSegments(_ layout: ExperimentLayout) throws {
        let line = ProgressLine()
        defer { line.end() }
        let outcome = try layout.ingestNewSegments { p in
            line.show("clowdr: ingesting the workers' segments: \(p.segmentsRead) of \(p.segments) read")
        }
        if case .unwritable(let n) = outcome {
            FileHandle.standardError.write(
                Data(
                    "clowdr: warning: \(n) segment\(n == 1 ? "" : "s") in \(layout.segments) hold events this log lacks, and this user cannot write it; showing what it holds\n"
                        .utf8))
        }
    }
}
