import Foundation
import JSON
import TestSupport
import Testing

@testable import Boutiques

@Suite("Python formatting as bosh uses it")
struct PythonFormatTests {
    @Test(
        "repr of JSON numbers",
        arguments: [
            ("1", "1"), ("-0", "0"), ("007", "7"), ("123456789012345678901234567890", "123456789012345678901234567890"), ("1.0", "1.0"),
            ("1e20", "1e+20"), ("1e-7", "1e-07"), ("1E3", "1000.0"), ("100.50", "100.5"), ("-0.0", "-0.0"), ("1e16", "1e+16"),
            ("1e15", "1000000000000000.0"), ("0.0001", "0.0001"), ("0.00001", "1e-05"), ("1.5e300", "1.5e+300"),
            ("12345678901234567.0", "1.2345678901234568e+16"), ("0.1", "0.1"), ("2e0", "2.0"), ("3.141592653589793238", "3.141592653589793"),
            ("-2.5e-10", "-2.5e-10"), ("123.456", "123.456"), ("9999999999999998.0", "9999999999999998.0"), ("-0.5", "-0.5"), ("0.0123", "0.0123"),
            ("100000000000000.5", "100000000000000.5"), ("1000000000000000.5", "1000000000000000.5"), ("0.00012", "0.00012"),
        ])
    func repr(literal: String, expected: String) {
        #expect(PythonFormat.repr(JSONNumber(literal: literal)) == expected)
    }

    @Test("the fast path for plain decimals writes exactly what the general float repr writes")
    func plainDecimals() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        var fast = 0
        for _ in 0..<20_000 {
            let intDigits = Int(next() % 18)
            let fracDigits = 1 + Int(next() % 17)
            let intPart = intDigits == 0 ? "0" : String((0..<intDigits).map { i in Character(String(i == 0 ? 1 + next() % 9 : next() % 10)) })
            var frac = String((0..<fracDigits).map { _ in Character(String(next() % 10)) })
            if next() % 3 == 0 { frac = String(repeating: "0", count: Int(next() % 6)) + frac }
            let literal = (next() % 2 == 0 ? "-" : "") + intPart + "." + frac
            if let plain = PythonFormat.plainShortestDecimal(literal) {
                fast += 1
                #expect(plain == PythonFormat.repr(Double(literal)!), "\(literal)")
            }
        }
        #expect(fast > 2_000)
    }

    @Test("shlex.quote")
    func quote() {
        #expect(PythonFormat.shellQuote("") == "''")
        #expect(PythonFormat.shellQuote("safe@%+=:,./-_AZaz09") == "safe@%+=:,./-_AZaz09")
        #expect(PythonFormat.shellQuote("café") == "'café'")
        #expect(PythonFormat.shellQuote("it's") == #"'it'"'"'s'"#)
        #expect(PythonFormat.shellQuote("$(x)") == "'$(x)'")
    }

    @Test("os.path.abspath and basename")
    func paths() {
        #expect(PythonFormat.abspath("../x/./y/n*.txt", cwd: "/tmp/oracle_run") == "/tmp/x/y/n*.txt")
        #expect(PythonFormat.abspath("/a//b/../c/", cwd: "/z") == "/a/c")
        #expect(PythonFormat.basename("/data/sub 01/T1.nii.gz") == "T1.nii.gz")
        #expect(PythonFormat.basename("noslash") == "noslash")
    }
}

@Suite("Deliberate deviations from bosh, each pinned")
struct DeviationTests {
    static let stringsDescriptor = #"""
        {"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"str [A] [B] [H]",
         "inputs":[{"id":"a","name":"a","type":"String","value-key":"[A]","optional":true},
                   {"id":"b","name":"b","type":"String","value-key":"[B]","optional":true},
                   {"id":"h","name":"h","type":"String","value-key":"[H]","optional":true}]}
        """#

    static func render(_ descriptor: String, _ invocation: JSONValue) throws -> RenderedInvocation {
        try Renderer(try DescriptorValidator.validate(try JSONParser.parse(descriptor)), workingDirectory: "/tmp").render(invocation)
    }

    @Test("single pass: a value holding another input's value-key is never substituted again")
    func singlePass() throws {
        // bosh: str 'xzzy' zz (c3b), and str ''$HOME'' '$HOME' (c3c), an unquoted expansion.
        #expect(try Self.render(Self.stringsDescriptor, ["a": "x[H]y", "h": "zz"]).commandLine == "str 'x[H]y' zz")
        #expect(try Self.render(Self.stringsDescriptor, ["a": "[B]", "b": "$HOME"]).commandLine == "str '[B]' '$HOME'")
    }

    @Test("where bosh crashes, a clean error that names the input")
    func crashesBecomeErrors() throws {
        let choices =
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"t [A]","inputs":[{"id":"a","name":"a","type":"String","value-key":"[A]","value-choices":["x y", 1]}]}"#
        #expect {
            try Self.render(choices, ["a": 1])
        } throws: { e in
            let e = e as! BoutiquesError
            return e.code == .invalidInvocation && e.issues.first?.pointer == "/a"
        }
        let sharedKey =
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"t [A]","inputs":[{"id":"a","name":"a","type":"String","value-key":"[A]","optional":true},{"id":"b","name":"b","type":"String","value-key":"[A]","optional":true}]}"#
        #expect {
            try DescriptorValidator.validate(try JSONParser.parse(sharedKey))
        } throws: { ($0 as! BoutiquesError).issues.contains { $0.rule == "MutExError" && $0.pointer == "/inputs/1/value-key" } }
        let lowerTrue =
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"t [F] [O]","inputs":[{"id":"f","name":"f","type":"Flag","command-line-flag":"-f","optional":true,"value-key":"[F]"}],"output-files":[{"id":"o","name":"o","value-key":"[O]","optional":false,"conditional-path-template":[{"f == true":"t.txt"},{"default":"d.txt"}]}]}"#
        #expect {
            try Self.render(lowerTrue, ["f": true])
        } throws: { e in "\(e)".contains("True and False") }
    }

    @Test("an optional conditional output with no true condition is absent (bosh reuses the previous name)")
    func noNameLeak() throws {
        let d =
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"t [N] [O1] [O2]","inputs":[{"id":"n","name":"n","type":"Number","value-key":"[N]"}],"output-files":[{"id":"o1","name":"o1","value-key":"[O1]","optional":true,"conditional-path-template":[{"n > 5":"big_[N].txt"}]},{"id":"o2","name":"o2","value-key":"[O2]","optional":true,"conditional-path-template":[{"n < 0":"neg.txt"}]}]}"#
        let r = try Self.render(d, ["n": 7])
        #expect(r.commandLine == "t 7 big_7.txt")
        #expect(r.outputs.map(\.id) == ["o1"])
    }

}

@Suite("Output names")
struct OutputNameTests {
    @Test("output names are substituted as bosh's are: sequentially, in two passes")
    func namesSequential() throws {
        // One key in each template (the renderer's compiled fast path), whose value holds another input's key.
        // bosh 0.5.33 (`bosh exec simulate`) names these outputs b_o.txt / 'x b by', z_o.txt / 'x z zy' (twice) and
        // s_o.txt / 'x s sy': `[B]`, after `[A]` in the inputs, is replaced in the first pass; `[Z]`, before it,
        // in the second.
        let d =
            #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"t [Z] [A] [B] [O] [P]","inputs":[{"id":"z","name":"z","type":"String","value-key":"[Z]","optional":true},{"id":"a","name":"a","type":"String","value-key":"[A]"},{"id":"b","name":"b","type":"String","value-key":"[B]","optional":true}],"output-files":[{"id":"o","name":"o","value-key":"[O]","path-template":"[A]_o.txt"},{"id":"p","name":"p","value-key":"[P]","path-template":"x [A] [A]y"}]}"#
        let later = try DeviationTests.render(d, ["a": "[B]", "b": "b"])
        #expect(later.outputs.map(\.path) == ["b_o.txt", "x b by"])
        let earlier = try DeviationTests.render(d, ["a": "[Z]", "z": "z"])
        #expect(earlier.outputs.map(\.path) == ["z_o.txt", "x z zy"])
        // A chain: `[A]` brings in `[B]`, which brings in `[Z]`, replaced only because the first pass went on from
        // `[A]` to every later key (bosh: z_o.txt). Substituting `[A]` alone there would leave `[Z]_o.txt`.
        let chain = try DeviationTests.render(d, ["a": "[B]", "b": "[Z]", "z": "z"])
        #expect(chain.outputs.map(\.path) == ["z_o.txt", "x z zy"])
        let plain = try DeviationTests.render(d, ["a": "s"])
        #expect(plain.outputs.map(\.path) == ["s_o.txt", "x s sy"])
    }
}

@Suite("Values never reach the shell unquoted")
struct InjectionTests {
    static let descriptor = #"""
        {"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"echo [S] [F] [L] > [OUT]",
         "inputs":[{"id":"s","name":"s","type":"String","value-key":"[S]"},
                   {"id":"f","name":"f","type":"File","value-key":"[F]","optional":true},
                   {"id":"l","name":"l","type":"String","list":true,"value-key":"[L]","optional":true}],
         "output-files":[{"id":"out","name":"out","value-key":"[OUT]","path-template":"out_[S].txt"}]}
        """#

    @Test(
        "hostile values are echoed, not executed",
        arguments: ["; touch PWNED", "$(touch PWNED)", "`touch PWNED`", "' ; touch PWNED ; '", "\"; touch PWNED\"", "a\ntouch PWNED", "[F]", "$HOME"])
    func hostile(value: String) throws {
        let dir = try TestSupport.temporaryDirectory("inject")
        let d = try DescriptorValidator.validate(try JSONParser.parse(Self.descriptor))
        let r = try Renderer(d, workingDirectory: dir).render(["s": .string(value), "f": .string(value), "l": [.string(value), "x"]])
        let run = try TestSupport.run("/bin/sh", ["-c", "cd '\(dir)' && " + r.commandLine])
        #expect(run.status == 0, "\(r.commandLine): \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/PWNED"), "\(r.commandLine) executed a value")
        let written = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("out_") }
        #expect(written.count == 1, "the output file name is one quoted word: \(r.commandLine)")
    }
}

@Suite("Bad input: clear errors, never a crash")
struct BadInputTests {
    @Test("malformed JSON names the file, line and column")
    func malformed() throws {
        let dir = try TestSupport.temporaryDirectory("bad")
        try "{\n  \"name\": \"x\",\n  \"inputs\": [1,]\n}".write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        #expect {
            try DescriptorValidator.load(dir + "/d.json")
        } throws: { e in
            let e = e as! BoutiquesError
            return e.code == .unreadable && "\(e)".contains("d.json") && "\(e)".contains("line 3, column 16")
        }
        #expect(throws: BoutiquesError.self) { try DescriptorValidator.load(dir + "/missing.json") }
    }

    @Test("every problem of a descriptor is reported at once, each with its JSON pointer")
    func allProblems() throws {
        let doc = try JSONParser.parse(
            #"{"name":"","tool-version":"1","description":"d","schema-version":"0.4","command-line":"t","inputs":[{"id":"a-b","name":"a","type":"Integer"}],"extra":1}"#
        )
        #expect {
            try DescriptorValidator.validate(doc, file: "d.json")
        } throws: { e in
            let pointers = Set((e as! BoutiquesError).issues.map(\.pointer))
            return pointers.isSuperset(of: ["/name", "/schema-version", "/inputs/0/id", "/inputs/0/type", ""])
                && "\(e)".contains("d.json: /inputs/0/id")
        }
    }

    @Test("very deep and very large documents are refused by the limits")
    func limits() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect { try BoutiquesDocument.parse(deep, file: "x") } throws: { "\($0)".contains("json.too_deep") }
        let large = "[" + String(repeating: "1,", count: 9 << 20) + "1]"
        #expect { try BoutiquesDocument.parse(large, file: "x") } throws: { "\($0)".contains("json.too_large") }
    }

    @Test("wrong types in an invocation: every one reported with its pointer")
    func invocationTypes() throws {
        let d = try DescriptorValidator.validate(
            try JSONParser.parse(
                #"{"name":"t","tool-version":"1","description":"d","schema-version":"0.5","command-line":"t [N] [L]","inputs":[{"id":"n","name":"n","type":"Number","integer":true,"value-key":"[N]"},{"id":"l","name":"l","type":"Number","list":true,"max-list-entries":2,"value-key":"[L]"}]}"#
            ))
        #expect {
            try InvocationValidator(d).validate(["n": 1.5, "l": [1, 2, 3], "zzz": 1])
        } throws: { e in
            let issues = (e as! BoutiquesError).issues
            return Set(issues.map(\.pointer)) == ["/n", "/l", ""] && issues.count == 3
        }
    }
}
