import EventLog
import Foundation
import JSON
import Testing

@Suite("Event model: times, ids, payloads")
struct EventModelTests {
    @Test("timestamps write and read ISO 8601 with microseconds, UTC")
    func timestamps() throws {
        let t = Timestamp(microseconds: 1_795_372_039_123_456)
        #expect(t.iso8601 == "2026-11-22T18:27:19.123456Z")
        #expect(Timestamp(iso8601: "2026-11-22T18:27:19.123456Z") == t)
        #expect(Timestamp(iso8601: "2026-11-22T19:27:19.123456+01:00") == t)
        #expect(Timestamp(iso8601: "2026-11-22T18:27:19Z")?.microseconds == 1_795_372_039_000_000)
        #expect(Timestamp(iso8601: "2026-11-22T18:27:19.5Z")?.microseconds == 1_795_372_039_500_000)
        #expect(Timestamp(microseconds: 0).iso8601 == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(microseconds: -1).iso8601 == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(iso8601: "2024-02-29T00:00:00Z")?.iso8601 == "2024-02-29T00:00:00.000000Z")
        // Any time from year 1 to 9999 reads back as written.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let t = Timestamp(microseconds: Int64.random(in: -62_135_596_800_000_000...253_402_300_799_999_999, using: &rng))
            #expect(Timestamp(iso8601: t.iso8601) == t, "\(t.microseconds)")
        }
        for bad in ["", "2026-11-22", "2026-13-01T00:00:00Z", "2026-11-22T18:27:19", "2026-11-22T18:27:19.Z", "x026-11-22T18:27:19Z"] {
            #expect(Timestamp(iso8601: bad) == nil, "\(bad)")
        }
    }

    @Test("ULIDs are 26 characters, unique, and sort by time, also within one millisecond")
    func ids() {
        let source = ULIDSource()
        let t = Timestamp(microseconds: 1_795_372_039_123_456)
        var ids = (0..<10_000).map { _ in source.next(at: t) }
        ids.append(source.next(at: t.adding(seconds: 0.001)))
        #expect(Set(ids).count == ids.count)
        #expect(ids == ids.sorted())
        #expect(ids.allSatisfy { $0.text.count == 26 && EventID($0.text) != nil })
        // The time is in the first 10 characters: a later millisecond sorts later whatever the random part.
        let other = ULIDSource()
        #expect(other.next(at: t.adding(seconds: 0.002)) > ids.last!)
        #expect(EventID("not-an-id") == nil)
        #expect(EventID(String(repeating: "U", count: 26)) == nil)  // U is not in Crockford's alphabet
    }

    @Test("the test id source is deterministic")
    func sequentialIDs() {
        let a = SequentialIDSource(stream: 3)
        let b = SequentialIDSource(stream: 3)
        let t = Timestamp(microseconds: 1_800_000_000_000_000)
        #expect((0..<5).map { _ in a.next(at: t) } == (0..<5).map { _ in b.next(at: t) })
    }

    @Test("the hand-written sample encoding decodes to the same value through Codable")
    func sampleEncoding() throws {
        let samples = [
            Sample(
                cpuUser: 12.25, cpuSystem: 0.000001, rss: 104_857_600, vms: 9_000_000_000, readBytes: 0, writeBytes: 4096, processes: 3, threads: 17),
            Sample(cpuUser: 0, cpuSystem: 3, rss: 0, vms: 0, readBytes: Int64.max, writeBytes: 1, processes: 0, threads: 0),
            Sample(cpuUser: 1234567.5, cpuSystem: 0.1, rss: 1, vms: 2, readBytes: 3, writeBytes: 4, processes: 5, threads: 6),
        ]
        for s in samples {
            let json = s.fastJSON()
            let decoded = try JSONDecoder().decode(Sample.self, from: Data(json.utf8))
            #expect(decoded == s, "\(json)")
            #expect(Sample.parseFast(json) == s)
            // Same keys as the Codable form.
            let codable = try JSONSerialization.jsonObject(with: JSONEncoder().encode(s)) as! [String: Any]
            let fast = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            #expect(Set(codable.keys) == Set(fast.keys))
        }
        #expect(
            samples[0].fastJSON()
                == #"{"cpu_system":0.000001,"cpu_user":12.25,"processes":3,"read_bytes":0,"rss":104857600,"threads":17,"vms":9000000000,"write_bytes":4096}"#
        )
    }

    @Test("sample numbers are written as Swift writes them, at every digit count and sign")
    func sampleNumbers() throws {
        // Each power of ten, one below it, the extremes, negatives (a counter gone wrong must still be valid JSON).
        var values: [Int64] = [0, 1, -1, Int64.max, Int64.min + 1, Int64.min]
        var p: Int64 = 1
        for _ in 0..<18 {
            p *= 10
            values += [p - 1, p, p + 1, -p, -(p - 1)]
        }
        for v in values {
            let s = Sample(cpuUser: 0, cpuSystem: 0, rss: v, vms: 0, readBytes: v, writeBytes: 0, processes: 0, threads: 0)
            let json = s.fastJSON()
            #expect(json.contains(#""rss":\#(v),"#) && json.contains(#""read_bytes":\#(v),"#), "\(json)")
            #expect(Sample.parseFast(json) == s)
        }
        // Seconds: the fraction keeps its leading zeros and drops its trailing ones.
        for (seconds, text) in [(0.0, "0"), (0.5, "0.5"), (0.05, "0.05"), (1.000001, "1.000001"), (100.1, "100.1"), (-2.25, "-2.25"), (9.99, "9.99")]
        {
            let json = Sample(cpuUser: seconds, cpuSystem: 0, rss: 0, vms: 0, readBytes: 0, writeBytes: 0, processes: 0, threads: 0).fastJSON()
            #expect(json.contains(#""cpu_user":\#(text),"#), "\(json)")
        }
    }

    @Test("every payload type round-trips through its stored form")
    func payloadRoundTrip() throws {
        let f = EventFactory(clock: SteppingClock(), ids: SequentialIDSource())
        let bodies = ExampleEvents.bodies
        #expect(Set(bodies.map(\.type)) == Set(EventType.allCases.map(\.rawValue)))
        for body in bodies {
            let e = f.make(task: "1", attempt: 1, body)
            let raw = try e.raw()
            #expect(try raw.decoded() == e)
            // Through a segment line and back.
            let line = raw.ndjsonLine
            #expect(!line.contains("\n"))
            #expect(try RawEvent(ndjsonLine: line) == raw)
        }
    }

    @Test("an event of an unknown type or version is kept as it is, never dropped")
    func unknownEvents() throws {
        let raw = RawEvent(
            seq: 1, id: "01KAAAAAAAAAAAAAAAAAAAAAAA", time: Timestamp(microseconds: 1), task: "1", attempt: 1, type: "gpu_sample", version: 1,
            payload: #"{"util":0.5}"#)
        let e = try raw.decoded()
        #expect(e.body == .unknown(type: "gpu_sample", version: 1, payload: #"{"util":0.5}"#))
        #expect(
            try e.raw() == RawEvent(seq: nil, id: raw.id, time: raw.time, task: "1", attempt: 1, type: "gpu_sample", version: 1, payload: raw.payload)
        )
        let newer = RawEvent(
            seq: 2, id: "01KAAAAAAAAAAAAAAAAAAAAAAB", time: Timestamp(microseconds: 1), task: "1", attempt: 1, type: "task_exited", version: 2,
            payload: "{}")
        #expect(try newer.decoded().body == .unknown(type: "task_exited", version: 2, payload: "{}"))
    }

    @Test("a known event with a payload that does not match its schema is an error that names it")
    func badPayload() {
        let raw = RawEvent(
            seq: 1, id: "01KAAAAAAAAAAAAAAAAAAAAAAA", time: Timestamp(microseconds: 1), task: "1", attempt: 1, type: "task_exited", version: 1,
            payload: #"{"exit_code":"zero"}"#)
        #expect {
            try raw.decoded()
        } throws: { "\($0)".contains("01KAAAAAAAAAAAAAAAAAAAAAAA") && "\($0)".contains("task_exited") }
    }

    @Test("segment lines with a wrong field are refused with the field named")
    func badSegmentLines() {
        let good =
            #"{"id":"01KAAAAAAAAAAAAAAAAAAAAAAA","time":"2026-11-22T18:27:19.123456Z","task":"1","attempt":1,"type":"task_lost","version":1,"payload":{"reason":"x"}}"#
        #expect((try? RawEvent(ndjsonLine: good)) != nil)
        let cases: [(String, String)] = [
            (good.replacingOccurrences(of: "01KAAAAAAAAAAAAAAAAAAAAAAA", with: "nope"), "\"id\""),
            (good.replacingOccurrences(of: "2026-11-22T18:27:19.123456Z", with: "yesterday"), "\"time\""),
            (good.replacingOccurrences(of: #""attempt":1"#, with: #""attempt":"1""#), "\"attempt\""),
            (good.replacingOccurrences(of: #""version":1"#, with: #""version":0"#), "\"version\""),
            (good.replacingOccurrences(of: #"{"reason":"x"}"#, with: "[]"), "\"payload\""),
            ("[1]", "object"),
        ]
        for (line, field) in cases {
            #expect {
                try RawEvent(ndjsonLine: line)
            } throws: { "\($0)".contains(field) }
        }
    }
}
