import Foundation
import JSON
import Testing

@testable import EventLog

@Suite("Segment lines read without building their JSON value")
struct SegmentLineTests {
    /// The fast reader's event, or nil when it declines; the parser's event (or nil when it rejects the line).
    func both(_ line: String) -> (fast: RawEvent?, slow: RawEvent?) {
        let bytes = Array(line.utf8)
        let fast = bytes.withUnsafeBufferPointer { RawEvent(canonicalLine: $0) }
        return (fast, try? RawEvent(ndjsonLine: line))
    }

    @Test("every event clowdr writes is read by the fast path, exactly as the parser reads it")
    func writtenLines() throws {
        var s = Script()
        s.plan("1")
        s.submit("1", 1, native: "12_3")
        s.start("1", 1)
        s.sample("1", 1, rss: 123_456)
        s.exit("1", 1, code: 2, reason: "quote \" backslash \\ newline \n tab \t")
        s.cancel("1", 1)
        s.add(nil, nil, .taskPlanned(TaskPlanned(invocation: ["x": 1.5, "list": [1, "a", nil, true]], commandLine: "run")))
        for e in s.events {
            let line = try e.raw().ndjsonLine
            let (fast, slow) = both(line)
            #expect(fast != nil, "declined: \(line)")
            #expect(fast == slow, "\(line)")
        }
    }

    @Test("other text: the fast path declines or agrees with the parser, never differs")
    func otherText() throws {
        var s = Script()
        s.sample("7", 2, rss: 5)
        let line = try s.events[0].raw().ndjsonLine
        let payload = String(line[line.range(of: #""payload":"#)!.upperBound...].dropLast())
        let envelope = String(line[..<line.range(of: #""payload":"#)!.upperBound])
        let variants = [
            line.replacingOccurrences(of: ",", with: ", "),  // spaces
            envelope + #"{"a":"caf\u00e9"}}"#,  // an escape the writer would not write
            envelope + #"{"a":"café"}}"#,  // non-ASCII
            envelope + #"{"a":1,"a":2}}"#,  // a repeated name
            envelope + #"{"a":1.0e5,"b":-0,"c":[],"d":{},"e":[{"f":null}]}}"#,
            envelope + #"{"a":01}}"#,  // not JSON
            envelope + #"{"a":"x\/y"}}"#,
            envelope + payload.dropLast() + "}",
            line.replacingOccurrences(of: #""attempt":2"#, with: #""attempt":02"#),
            line.replacingOccurrences(of: #""task":"7""#, with: #""task":"\u0037""#),
            #"{"time":"# + line.dropFirst(),
            line + " ",
        ]
        for v in variants {
            let (fast, slow) = both(v)
            #expect(fast == nil || fast == slow, "\(v): fast \(String(describing: fast)), parser \(String(describing: slow))")
        }
        #expect(both(variants[4]).fast != nil, "canonical JSON of every kind is taken")
    }
}
