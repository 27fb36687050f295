import ArgumentParser
import Boutiques
import Foundation
import JSON

/// `clowdr simulate DESCRIPTOR -i INVOCATION`: prints the command line, as `bosh exec simulate` does.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Print the command line a descriptor and an invocation give, as bosh exec simulate does.",
        discussion: """
            The command line is what a task runs through /bin/sh -c: identical to bosh 0.5.33's except where \
            bosh would re-read one value inside another (clowdr substitutes in a single pass). Config files \
            (file-template) are written only with --write-config-files.
            """)

    @Argument(help: "The Boutiques descriptor (JSON file).")
    var descriptor: String

    @Option(name: [.short, .customLong("invocation")], help: "The invocation (JSON file).")
    var invocation: String

    @Flag(help: "Print JSON: the complete invocation (with defaults), the command line, output paths and config files.")
    var json = false

    @Flag(help: "Write the config files of file-template outputs, as bosh does.")
    var writeConfigFiles = false

    func run() throws {
        do {
            let d = try DescriptorValidator.load(descriptor)
            let r = try Renderer(d, workingDirectory: FileManager.default.currentDirectoryPath).render(
                try BoutiquesDocument.load(invocation), file: invocation)
            if writeConfigFiles {
                for c in r.configFiles {
                    let dir = (c.path as NSString).deletingLastPathComponent
                    if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
                    try Data(c.content.utf8).write(to: URL(fileURLWithPath: c.path), options: .atomic)
                }
            }
            if json {
                let out: JSONValue = [
                    "command_line": .string(r.commandLine), "invocation": .object(r.invocation),
                    "outputs": .object(JSONObject(r.outputs.map { ($0.id, .string($0.path)) })),
                    "config_files": .object(JSONObject(r.configFiles.map { ($0.path, .string($0.content)) })),
                ]
                print(JSONWriter(indent: 2).string(out))
            } else {
                print("Generated Command:\n\(r.commandLine)")
            }
        } catch let e as BoutiquesError {
            try BoutiquesReport.fail(e, json: json)
        }
    }
}
