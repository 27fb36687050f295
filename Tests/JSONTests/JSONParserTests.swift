import JSON
import Testing

@Suite("JSON parser and writer")
struct JSONParserTests {
    @Test("number literals keep the form they were written in")
    func numberLiterals() throws {
        let v = try JSONParser.parse(#"{"a": 1, "b": 1.0, "c": 1e-05, "d": -0.50, "e": 2E+3}"#)
        #expect(v["a"]?.numberValue?.literal == "1")
        #expect(v["b"]?.numberValue?.literal == "1.0")
        #expect(v["c"]?.numberValue?.literal == "1e-05")
        #expect(v["d"]?.numberValue?.literal == "-0.50")
        #expect(v["e"]?.numberValue?.literal == "2E+3")
        #expect(v["a"]?.int64Value == 1)
        #expect(v["b"]?.int64Value == nil)
        #expect(v["c"]?.doubleValue == 1e-05)
        #expect(JSONWriter().string(v) == #"{"a":1,"b":1.0,"c":1e-05,"d":-0.50,"e":2E+3}"#)
    }

    @Test("objects keep key order; a repeated key keeps its first place and its last value")
    func keyOrder() throws {
        let v = try JSONParser.parse(#"{"z": 1, "a": 2, "z": 3}"#)
        #expect(v.objectValue?.keys == ["z", "a"])
        #expect(v["z"]?.int64Value == 3)
        #expect(JSONWriter(sortKeys: true).string(v) == #"{"a":2,"z":3}"#)
    }

    @Test("strings: escapes, surrogate pairs, non-ASCII, and writing them back")
    func strings() throws {
        let v = try JSONParser.parse(#"["a\"b\\c\/d\n\t", "\u00e9\ud83d\ude00", "é😀"]"#)
        #expect(v.arrayValue?[0].stringValue == "a\"b\\c/d\n\t")
        #expect(v.arrayValue?[1].stringValue == "é😀")
        #expect(v.arrayValue?[2].stringValue == "é😀")
        #expect(JSONWriter().string(v) == #"["a\"b\\c/d\n\t","é😀","é😀"]"#)
        #expect(JSONWriter(asciiOnly: true).string(.string("é😀")) == #""\u00e9\ud83d\ude00""#)
        #expect(JSONWriter().string(.string("\u{1}")) == #""\u0001""#)
        // Plain strings are copied whole, others escaped byte by byte: both read back as they were.
        for text in ["", "plain", "sub-01_ses-2/anat", "é😀", "tab\there", "q\"", "b\\", "\u{7f}", "\u{1f}x", String(repeating: "a", count: 300)] {
            var out: [UInt8] = []
            JSONWriter.writeString(text, into: &out)
            #expect(try JSONParser.parse(String(decoding: out, as: UTF8.self)).stringValue == text, "\(text)")
            out.removeAll()
            JSONWriter.writeString(text, into: &out, asciiOnly: true)
            let ascii = try JSONParser.parse(String(decoding: out, as: UTF8.self)).stringValue
            #expect(out.allSatisfy { $0 < 0x80 } && ascii == text, "\(text)")
        }
    }

    @Test("pretty output indents like Python's json.dumps(indent=4)")
    func pretty() throws {
        let v = try JSONParser.parse(#"{"a": [1, {"b": null}], "c": {}, "d": []}"#)
        let expected = """
            {
                "a": [
                    1,
                    {
                        "b": null
                    }
                ],
                "c": {},
                "d": []
            }
            """
        #expect(JSONWriter(indent: 4).string(v) == expected)
    }

    @Test(
        "malformed documents give the line and column of the problem",
        arguments: [
            ("{\n  \"a\": 1,\n  \"b\" 2\n}", 3, 7, JSONParseError.Code.syntax),
            ("[1, 2", 1, 6, .syntax),
            ("{\"a\": 01}", 1, 8, .syntax),
            ("[1,]", 1, 4, .syntax),
            ("\"abc", 1, 1, .syntax),
            ("{\"é\": tru}", 1, 7, .syntax),
            ("1 2", 1, 3, .syntax),
            ("", 1, 1, .syntax),
            ("[\"a\u{1}\"]", 1, 4, .syntax),
        ])
    func errors(text: String, line: Int, column: Int, code: JSONParseError.Code) {
        #expect {
            try JSONParser.parse(text)
        } throws: { error in
            guard let e = error as? JSONParseError else { return false }
            return e.line == line && e.column == column && e.code == code
        }
    }

    @Test("nesting deeper than the limit is refused, not a stack overflow")
    func depthLimit() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect {
            try JSONParser.parse(deep)
        } throws: { ($0 as? JSONParseError)?.code == .tooDeep }
        #expect((try? JSONParser.parse(String(repeating: "[", count: 200) + String(repeating: "]", count: 200))) != nil)
    }

    @Test("documents larger than the limit are refused")
    func sizeLimit() {
        let text = "[" + String(repeating: "1,", count: 1000) + "1]"
        #expect {
            try JSONParser.parse(text, limits: .init(maxBytes: 100, maxDepth: 10))
        } throws: { ($0 as? JSONParseError)?.code == .tooLarge }
    }

    @Test("invalid UTF-8 inside a string is refused")
    func invalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        #expect {
            try JSONParser.parse(bytes)
        } throws: { ($0 as? JSONParseError)?.code == .invalidUTF8 }
    }
}
