import Boutiques
import Foundation
import JSON
import TestSupport
import Testing

/// Conformance with bosh 0.5.33 over `../shared/fixtures/boutiques`: every recorded validate, invocation check,
/// simulate and evaluate result. Each suite prints `N/M identical`; a case may differ only if it is one of the
/// documented deviations below, and each deviation is pinned to what clowdr does instead.
@Suite(
    "Boutiques conformance with bosh 0.5.33",
    .enabled(if: TestSupport.sharedFixtures != nil, "../shared/fixtures is absent: the conformance suites need bosh's recorded outputs"))
struct ConformanceTests {
    static let root = (TestSupport.sharedFixtures ?? "") + "/boutiques"
    /// bosh ran with this working directory (it matters for `uses-absolute-path`).
    static let cwd = "/tmp/oracle_run"

    /// Cases where clowdr deliberately differs from bosh, and why (also in docs/boutiques.md).
    static let deviations: [String: String] = [
        "c3b_strings": "single-pass substitution: a value holding another input's value-key stays literal",
        "c3c_strings": "single-pass substitution: no unquoted $HOME from a value substituted inside another value's quotes",
        "cu_0": "an optional conditional output with no true condition is absent; bosh reuses the previous output's name",
        "cu_1": "bosh crashes (UnboundLocalError); clowdr: clean error, no condition holds",
        "vc_0": "bosh crashes quoting a number for a String input; clowdr: invalid invocation",
        "ct_0": "bosh crashes (NameError on 'true'); clowdr: clean evaluation error",
        "ct_1": "bosh crashes ordering a string and a number; clowdr: clean evaluation error",
        "val_cond_no_optional_key":
            "bosh crashes (KeyError) on a conditional output without 'optional'; clowdr treats it as required and reports the missing default",
        "val_dup_valuekey_nogroup": "bosh crashes (TypeError) on inputs sharing a value-key without groups; clowdr reports them",
        "examples/example1/example1_docker.json + tests/example1/invocation_invalid.json":
            "bosh crashes reading a non-JSON invocation; clowdr: clean error with line and column",
    ]

    /// What happened when clowdr ran a case, in bosh's terms.
    struct Outcome: Equatable {
        var exitCode: Int32
        var stdout: String
        var files: [String: String] = [:]
        var evaluate: String?
        /// The Boutiques-rule messages, as bosh words them (`IdError: "a" is non-unique`).
        var messages: Set<String> = []
    }

    static func run(descriptor: JSONValue, invocation: String?, file: String?, evaluate: Bool) -> Outcome {
        let d: Descriptor
        do { d = try DescriptorValidator.validate(descriptor, file: file) } catch {
            return Outcome(
                exitCode: 99, stdout: "\(error)",
                messages: Set(error.issues.filter { !$0.rule.hasPrefix("schema.") }.map { "\($0.rule): \($0.message)" }))
        }
        guard let invocation else { return Outcome(exitCode: 0, stdout: "OK\n") }
        do {
            let inv = try BoutiquesDocument.parse(invocation, file: "invocation")
            let r = try Renderer(d, workingDirectory: cwd).render(inv)
            var files: [String: String] = [:]
            // bosh recorded config files by their path relative to its working directory.
            for c in r.configFiles { files[String(PythonFormat.abspath(c.path, cwd: cwd).dropFirst(cwd.count + 1))] = c.content }
            let dict =
                "{" + r.outputs.map { "\(PythonFormat.quotedRepr($0.id)): \(PythonFormat.quotedRepr($0.path))" }.joined(separator: ", ") + "}\n"
            return Outcome(exitCode: 0, stdout: "Generated Command:\n\(r.commandLine)\n", files: files, evaluate: evaluate ? dict : nil)
        } catch {
            return Outcome(exitCode: error.code == .unreadable ? 1 : 99, stdout: "\(error)")
        }
    }

    /// Compares clowdr's outcome with bosh's recorded result; nil when identical, else what differs.
    static func compare(_ ours: Outcome, _ bosh: JSONValue, evaluate: JSONValue?) -> String? {
        let code = Int32(bosh["exit_code"]?.int64Value ?? -1)
        if code != 0 {
            // bosh refused (99) or crashed (1): clowdr must refuse too, with its own message.
            return ours.exitCode != 0
                ? (code == 1 ? "bosh crashed; clowdr refused cleanly" : nil) : "bosh exit \(code), clowdr accepted: \(ours.stdout)"
        }
        guard ours.exitCode == 0 else { return "bosh accepted, clowdr refused: \(ours.stdout)" }
        if let out = bosh["stdout"]?.stringValue, out != ours.stdout {
            return "stdout differs:\n  bosh:   \(out.debugDescription)\n  clowdr: \(ours.stdout.debugDescription)"
        }
        if let files = bosh["files_written"]?.objectValue {
            for (path, content) in files where ours.files[path] != content.stringValue {
                return "config file \(path) differs: bosh \(content.shortText), clowdr \(ours.files[path].debugDescription)"
            }
        }
        // For a descriptor without outputs bosh's query prints an error line, then the same empty dict.
        let noOutputs = "[ ERROR ] Invalid query (output-files). See --help.\n"
        if var e = evaluate?["stdout"]?.stringValue, evaluate?["exit_code"]?.int64Value == 0, ours.evaluate != e {
            if e.hasPrefix(noOutputs) { e.removeFirst(noOutputs.count) }
            if ours.evaluate == e { return nil }
            return "evaluate differs:\n  bosh:   \(e.debugDescription)\n  clowdr: \((ours.evaluate ?? "").debugDescription)"
        }
        return nil
    }

    static func report(_ name: String, _ results: [(id: String, difference: String?)]) -> [(String, String)] {
        let same = results.filter { $0.difference == nil }.count
        print("\(name): \(same)/\(results.count) identical (\(results.count - same) documented deviations or failures)")
        return results.compactMap { r in r.difference.map { (r.id, $0) } }
    }

    @Test("bosh-0.5.33-expected.json: descriptor validation")
    func expectedValidate() throws {
        let expected = try BoutiquesDocument.load(Self.root + "/bosh-0.5.33-expected.json")
        var results: [(id: String, difference: String?)] = []
        for (file, result) in expected["validate"]?.objectValue ?? JSONObject() {
            let json = try BoutiquesDocument.load(Self.root + "/" + file)
            results.append((file, Self.compare(Self.run(descriptor: json, invocation: nil, file: file, evaluate: false), result, evaluate: nil)))
        }
        #expect(results.count == 29)
        for (id, difference) in Self.report("validate", results) { #expect(Self.deviations[id] != nil, "\(id): \(difference)") }
    }

    @Test("bosh-0.5.33-expected.json: invocation, simulate and evaluate of descriptor/invocation pairs")
    func expectedPairs() throws {
        let expected = try BoutiquesDocument.load(Self.root + "/bosh-0.5.33-expected.json")
        var results: [(id: String, difference: String?)] = []
        for pair in expected["pairs"]?.arrayValue ?? [] {
            let dfile = pair["descriptor"]!.stringValue!
            let ifile = pair["invocation"]!.stringValue!
            let json = try BoutiquesDocument.load(Self.root + "/" + dfile)
            let text = try String(contentsOfFile: Self.root + "/" + ifile, encoding: .utf8)
            let ours = Self.run(descriptor: json, invocation: text, file: dfile, evaluate: true)
            let id = "\(dfile) + \(ifile)"
            let check = pair["invocation_check"]!
            let checkDiff =
                (check["exit_code"]?.int64Value == 0) == (ours.exitCode == 0)
                ? nil : "invocation check: bosh exit \(check["exit_code"]!), clowdr \(ours.exitCode)"
            results.append((id, checkDiff ?? Self.compare(ours, pair["simulate"]!, evaluate: pair["evaluate_output_files"])))
        }
        #expect(results.count == 24)
        for (id, difference) in Self.report("pairs", results) { #expect(Self.deviations[id] != nil, "\(id): \(difference)") }
    }

    @Test("oracle-cases.json: 96 edge cases")
    func oracleCases() throws {
        let cases = try BoutiquesDocument.load(Self.root + "/oracle-cases.json")["cases"]?.arrayValue ?? []
        var results: [(id: String, difference: String?)] = []
        for c in cases {
            let id = c["id"]!.stringValue!
            let mode = c["mode"]!.stringValue!
            let ours = Self.run(
                descriptor: c["descriptor"]!, invocation: mode == "validate" ? nil : c["invocation_text"]?.stringValue, file: id,
                evaluate: mode.hasSuffix("evaluate"))
            results.append((id, Self.compare(ours, c["result"]!, evaluate: c["evaluate_output_files"])))
        }
        #expect(results.count == 96)
        for (id, difference) in Self.report("oracle-cases", results) { #expect(Self.deviations[id] != nil, "\(id): \(difference)") }
    }

    @Test("the built-in descriptor schema accepts and rejects the same fixture descriptors as the official schema")
    func schemaAgreesWithOfficial() throws {
        let official = JSONSchemaValidator(schema: try BoutiquesDocument.load(Self.root + "/schema/descriptor.schema.json"))
        var documents: [(String, JSONValue)] = []
        let expected = try BoutiquesDocument.load(Self.root + "/bosh-0.5.33-expected.json")
        for (file, _) in expected["validate"]?.objectValue ?? JSONObject() {
            documents.append((file, try BoutiquesDocument.load(Self.root + "/" + file)))
        }
        for c in try BoutiquesDocument.load(Self.root + "/oracle-cases.json")["cases"]?.arrayValue ?? [] {
            documents.append((c["id"]!.stringValue!, c["descriptor"]!))
        }
        var agree = 0
        for (name, doc) in documents {
            let theirs = official.isValid(doc)
            var ours = true
            do { _ = try DescriptorValidator.validate(doc) } catch { ours = !error.issues.allSatisfy { $0.rule.hasPrefix("schema.") } }
            if theirs == ours {
                agree += 1
            } else {
                Issue.record("\(name): official schema says \(theirs ? "valid" : "invalid"), clowdr's \(ours ? "valid" : "invalid")")
            }
        }
        print("schema agreement: \(agree)/\(documents.count)")
    }
}
