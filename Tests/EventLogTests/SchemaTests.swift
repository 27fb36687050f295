import EventLog
import Foundation
import TestSupport
import Testing

/// The JSON Schemas in `schema/events/` are the documentation of every event; these tests keep them true by
/// validating real encoded events with an independent validator (Python's `jsonschema`).
@Suite("schema/events documents every event type")
struct SchemaTests {
    static let dir = TestSupport.repositoryRoot + "/schema/events"
    static let python: String? = TestSupport.pythonHas("jsonschema") ? TestSupport.python : nil

    @Test("there is one schema per event type, and no other")
    func oneSchemaPerType() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.dir).filter { $0.hasSuffix(".schema.json") }
        let types = Set(files.map { $0.replacingOccurrences(of: ".schema.json", with: "") }).subtracting(["envelope"])
        #expect(types == Set(EventType.allCases.map(\.rawValue)))
    }

    @Test(
        "every encoded example validates against its type's schema and the envelope",
        .enabled(if: python != nil, "needs jsonschema in .build-venv (make test-deps installs it)"))
    func examplesValidate() throws {
        let tmp = try TestSupport.temporaryDirectory("schemas")
        let f = EventFactory(clock: SteppingClock(), ids: SequentialIDSource())
        let lines = try ExampleEvents.bodies.map { try f.make(task: "1", attempt: 1, $0).raw().ndjsonLine }
        try lines.joined(separator: "\n").write(toFile: tmp + "/events.ndjson", atomically: true, encoding: .utf8)
        let script = """
            import json, sys, jsonschema
            d = sys.argv[1]
            env = json.load(open(d + "/envelope.schema.json"))
            checker = jsonschema.Draft202012Validator
            checker.check_schema(env)
            n = 0
            for line in open(sys.argv[2]):
                e = json.loads(line)
                checker(env, format_checker=checker.FORMAT_CHECKER).validate(e)
                s = json.load(open(d + "/" + e["type"] + ".schema.json"))
                checker.check_schema(s)
                errors = list(checker(s).iter_errors(e["payload"]))
                if errors:
                    print(e["type"], [x.message for x in errors]); sys.exit(1)
                n += 1
            print(n, "valid")
            """
        let out = try TestSupport.run(Self.python!, ["-c", script, Self.dir, tmp + "/events.ndjson"])
        #expect(out.status == 0, "\(out.stdout) \(out.stderr)")
        #expect(out.stdout == "\(lines.count) valid\n")
    }

    @Test(
        "a payload with a field the schema does not document is rejected by the validator",
        .enabled(if: python != nil, "needs jsonschema in .build-venv (make test-deps installs it)"))
    func schemasAreClosed() throws {
        let script = """
            import json, sys, jsonschema
            s = json.load(open(sys.argv[1] + "/task_lost.schema.json"))
            ok = jsonschema.Draft202012Validator(s).is_valid({"reason": "x", "extra": 1})
            print("accepted" if ok else "rejected")
            """
        let out = try TestSupport.run(Self.python!, ["-c", script, Self.dir])
        #expect(out.stdout == "rejected\n")
    }
}
