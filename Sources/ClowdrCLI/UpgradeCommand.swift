import ArgumentParser
import EventLog
import Foundation
import SQLite

/// `clowdr upgrade EXPERIMENT`: brings a log written by an older clowdr to this one's schema.
struct UpgradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Upgrade an experiment's log written by an older clowdr (the only reading command that writes it).",
        discussion: """
            Commands that read an experiment (status, query, export, share, fsck, archive --verify) never write it, \
            so a log too old for them to read says so and names this command. The upgrade runs the schema \
            migrations in one transaction; events are never changed. Needs write access to the experiment folder.
            """)

    @OptionGroup var target: ExperimentArgument

    func run() throws {
        let layout = try target.layout(ingesting: false)
        let before = try Connection(path: layout.log, mode: .readOnly).scalar("PRAGMA user_version")?.int64 ?? 0
        _ = try EventLog(path: layout.log, mode: .readWrite)
        let after = try Connection(path: layout.log, mode: .readOnly).scalar("PRAGMA user_version")?.int64 ?? 0
        print(before == after ? "\(layout.log): schema version \(after), already current" : "\(layout.log): schema version \(before) -> \(after)")
    }
}
