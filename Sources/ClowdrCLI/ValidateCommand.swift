import ArgumentParser
import Boutiques
import Foundation
import JSON

/// `clowdr validate DESCRIPTOR [-i INVOCATION]`: checks a descriptor, and an invocation against it.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a Boutiques descriptor, and optionally an invocation against it.",
        discussion: """
            Reports every problem at once, each with the file, the JSON pointer of the offending value, the rule and \
            what was expected. Prints OK and exits 0 when everything is valid; exits 2 otherwise.
            """)

    @Argument(help: "The Boutiques descriptor (JSON file).")
    var descriptor: String

    @Option(name: [.short, .customLong("invocation")], help: "An invocation (JSON file) to check against the descriptor.")
    var invocation: String?

    @Flag(help: "Print the result as JSON: {\"ok\": ..., \"errors\": [{\"file\", \"pointer\", \"rule\", \"message\"}]}.")
    var json = false

    func run() throws {
        do {
            let d = try DescriptorValidator.load(descriptor)
            if let invocation { _ = try InvocationValidator(d).validate(try BoutiquesDocument.load(invocation), file: invocation) }
            let warnings = DescriptorValidator.warnings(d, file: descriptor)
            if json {
                print(JSONWriter(indent: 2).string(["ok": true, "errors": [], "warnings": .array(warnings.map { .string($0) })]))
            } else {
                for w in warnings { FileHandle.standardError.write(Data("clowdr: warning: \(w)\n".utf8)) }
                print("OK")
            }
        } catch {
            try BoutiquesReport.fail(error, json: json)
        }
    }
}

/// Reporting Boutiques errors the same way in every command.
enum BoutiquesReport {
    /// Prints the problems (stderr, or stdout as JSON) and exits 2: bad input is a usage error.
    static func fail(_ error: any Error, json: Bool) throws -> Never {
        guard let e = error as? BoutiquesError else { throw error }
        if json {
            let errors: [JSONValue] = e.issues.map {
                [
                    "file": $0.file.map(JSONValue.string) ?? .null, "pointer": .string($0.pointer), "rule": .string($0.rule),
                    "message": .string($0.message),
                ]
            }
            print(JSONWriter(indent: 2).string(["ok": false, "code": .string(e.code.rawValue), "errors": .array(errors)]))
        } else {
            FileHandle.standardError.write(Data("clowdr: \(e)\n".utf8))
        }
        throw ExitCode(2)
    }
}
