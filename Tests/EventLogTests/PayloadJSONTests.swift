import Foundation
import JSON
import Testing

@testable import EventLog

/// The hand-written payloads (`PayloadJSON.swift`) are byte for byte the Codable form's.
@Suite("Event model: hand-written payload JSON")
struct PayloadJSONTests {
    /// Strings with what JSON escapes (quotes, backslashes, control characters), slashes, and non-ASCII text.
    static let strings = [
        "", "slurm", "12_3", "a/b", "quote\"back\\slash", "tab\tline\nfeed\r", "\u{01}\u{1f}\u{7f}", "café ü 数据", "emoji 🧠", "\u{2028}",
    ]
    /// Resource names in byte order traps: case, digits, '-' and '_'.
    static let names = ["mem", "time", "cpus-per-task", "cpus", "Z", "a10", "a9", "a_b", "aab", "a-b", "gres", "x/y"]

    @Test("task_submitted: every field present or absent, resources in any order, strings that need escaping")
    func taskSubmitted() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<500 {
            let backend = Self.strings.randomElement(using: &generator)!
            let nativeID = round % 3 == 0 ? nil : Self.strings.randomElement(using: &generator)!
            var resources: [String: String]?
            if round % 4 != 0 {
                resources = [:]
                for name in Self.names.shuffled(using: &generator).prefix(round % 6) {
                    resources![name] = Self.strings.randomElement(using: &generator)!
                }
            }
            let p = TaskSubmitted(backend: backend, nativeID: nativeID, resources: resources)
            #expect(try #require(p.fastJSON()) == EventBody.encode(p))
        }
    }

    @Test("task_submitted with a non-ASCII resource name falls back to the Codable form")
    func nonASCIIName() throws {
        let p = TaskSubmitted(backend: "slurm", nativeID: "1_0", resources: ["mém": "1G", "mem": "2G"])
        #expect(p.fastJSON() == nil)
        #expect(try EventBody.taskSubmitted(p).payloadJSON() == EventBody.encode(p))
    }

    @Test("task_started: with and without a boot id, any pid")
    func taskStarted() throws {
        for host in Self.strings {
            for pid: Int32 in [0, 1, 4_194_304, Int32.max, -1] {
                for bootID in [nil, "829eeb74-23df-4f2b-b39d-0570a7ea9ef7", host] {
                    let p = TaskStarted(host: host, pid: pid, bootID: bootID)
                    #expect(p.fastJSON() == (try EventBody.encode(p)))
                    // v2: the clowdr version and the host's facts, read back by the fast reader as written.
                    let v2 = TaskStarted(
                        host: host, pid: pid, bootID: bootID, clowdrVersion: Self.strings.randomElement()!, cpuModel: host, cpus: Int(pid & 0xff) + 1,
                        memory: Int64(pid) << 20, kernel: "6.1.0", osRelease: bootID)
                    #expect(v2.fastJSON() == (try EventBody.encode(v2)))
                    #expect(try EventBody.decode(type: "task_started", version: 2, payload: v2.fastJSON()) == .taskStarted(v2))
                }
            }
        }
    }
}

extension PayloadJSONTests {
    /// Times as the runner measures them and as people type them: whole, tiny, huge, negative zero.
    static let times: [Double] = [0, -0.0, 1, 2.5, 0.1, 1e-7, 0.004319494, 37.712750613845046, 123_456_789.123, 1e21, 1e-300, 86_400]

    @Test("task_exited: every field present or absent, outputs of every shape, times as JSONEncoder writes them")
    func taskExited() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<2000 {
            func time() -> Double {
                round % 2 == 0 ? Self.times.randomElement(using: &generator)! : Double.random(in: 0..<100_000, using: &generator)
            }
            let outputs = (0..<(round % 4)).map { i in
                OutputFile(
                    id: Self.strings.randomElement(using: &generator)!, path: Self.strings.randomElement(using: &generator)! + "/out\(i)",
                    size: round % 3 == 0 ? nil : Int64.random(in: 0..<Int64.max, using: &generator),
                    sha256: round % 5 == 0 ? nil : String(repeating: "ab", count: 32))
            }
            let p = TaskExited(
                exitCode: round % 7 == 0 ? nil : Int32.random(in: -1...255, using: &generator), signal: round % 3 == 0 ? 9 : nil, wallTime: time(),
                cpuUser: time(), cpuSystem: time(), peakRSS: Int64.random(in: 0..<(1 << 40), using: &generator), readBytes: round % 2 == 0 ? 0 : 4096,
                writeBytes: Int64(round), outputs: outputs, failureReason: round % 4 == 0 ? Self.strings.randomElement(using: &generator)! : nil)
            #expect(try #require(p.fastJSON()) == EventBody.encode(p))
        }
    }

    @Test("task_exited with a time that is not finite falls back to the Codable form")
    func taskExitedNotFinite() {
        #expect(TaskExited(exitCode: 0, wallTime: .nan).fastJSON() == nil)
        #expect(TaskExited(exitCode: 0, wallTime: 1, cpuUser: .infinity).fastJSON() == nil)
    }
}

extension PayloadJSONTests {
    /// The Codable form's reading of a payload (nil when it refuses it).
    static func decoded<T: Decodable>(_ type: T.Type, _ payload: String) -> T? { try? JSONDecoder().decode(T.self, from: Data(payload.utf8)) }

    @Test("the lifecycle payloads read back without JSONDecoder as JSONDecoder reads them, odd forms included")
    func readBack() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<500 {
            let exited = TaskExited(
                exitCode: round % 7 == 0 ? nil : Int32(round % 256), signal: round % 3 == 0 ? 15 : nil,
                wallTime: Self.times[round % Self.times.count], cpuUser: Double.random(in: 0..<10, using: &generator), cpuSystem: 0,
                peakRSS: Int64(round) << 20, outputs: round % 2 == 0 ? [] : [OutputFile(id: Self.strings[round % Self.strings.count], path: "/x")],
                failureReason: round % 4 == 0 ? Self.strings[round % Self.strings.count] : nil)
            let payload = try EventBody.encode(exited)
            #expect(try EventBody.decode(type: "task_exited", version: 1, payload: payload) == .taskExited(exited))
            let started = TaskStarted(host: Self.strings[round % Self.strings.count], pid: Int32(round), bootID: round % 2 == 0 ? nil : "b")
            #expect(try EventBody.decode(type: "task_started", version: 1, payload: EventBody.encode(started)) == .taskStarted(started))
        }
        // Forms only another writer makes: the fast reader declines them, and JSONDecoder's answer stands.
        let odd: [(String, String)] = [
            ("task_started", #"{"host":"h","pid":1.0}"#), ("task_started", #"{"host":"h","pid":"1"}"#),
            ("task_started", #"{"host":"h","pid":1,"pid":2}"#), ("task_started", #"{"host":"h","pid":4294967296}"#),
            ("task_started", #"{"host":null,"pid":1}"#), ("task_started", #"{"host":"h","pid":1,"extra":[1]}"#),
            ("task_exited", #"{"cpu_system":0,"cpu_user":0,"outputs":[],"peak_rss":0,"read_bytes":0,"wall_time":1e400,"write_bytes":0}"#),
            ("task_exited", #"{"cpu_system":0,"cpu_user":0,"outputs":[{"id":"a"}],"peak_rss":0,"read_bytes":0,"wall_time":1,"write_bytes":0}"#),
            (
                "task_exited",
                #"{"cpu_system":0,"cpu_user":0,"outputs":[],"peak_rss":0,"read_bytes":0,"wall_time":1,"write_bytes":0,"exit_code":null}"#
            ),
            ("task_submitted", #"{"backend":"slurm","resources":{"mem":1}}"#), ("task_submitted", #"{"backend":"slurm","native_id":null}"#),
            ("task_submitted", #"{"backend":"a:b\"c:","resources":{"mem":"1","mem":"2"}}"#),
            (
                "task_exited",
                #"{"cpu_system":0,"cpu_user":0,"outputs":[{"id":"a","path":"p","id":"b"}],"peak_rss":0,"read_bytes":0,"wall_time":1,"write_bytes":0}"#
            ),
        ]
        for (type, payload) in odd {
            let fast = try? EventBody.decode(type: type, version: 1, payload: payload)
            let codable: EventBody? =
                switch type {
                case "task_started": Self.decoded(TaskStarted.self, payload).map(EventBody.taskStarted)
                case "task_exited": Self.decoded(TaskExited.self, payload).map(EventBody.taskExited)
                default: Self.decoded(TaskSubmitted.self, payload).map(EventBody.taskSubmitted)
                }
            #expect(fast == codable, "\(payload)")
        }
    }
}

extension PayloadJSONTests {
    /// A random invocation: strings that need escaping, integers of every size, fractions, nested lists and objects.
    static func randomValue(depth: Int, _ g: inout SystemRandomNumberGenerator) -> JSONValue {
        switch Int.random(in: 0..<(depth > 2 ? 5 : 7), using: &g) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &g))
        case 2: return .number(JSONNumber(Int64.random(in: Int64.min...Int64.max, using: &g) >> Int64.random(in: 0..<63, using: &g)))
        case 3: return .number(JSONNumber(Double.random(in: -1e6..<1e6, using: &g) * [1, 1e-9, 1e12, 1e300][Int.random(in: 0..<4, using: &g)]))
        case 4: return .string(strings.randomElement(using: &g)!)
        case 5: return .array((0..<Int.random(in: 0..<4, using: &g)).map { _ in randomValue(depth: depth + 1, &g) })
        default:
            var o = JSONObject()
            for key in names.shuffled(using: &g).prefix(Int.random(in: 0..<5, using: &g)) { o[key] = randomValue(depth: depth + 1, &g) }
            return .object(o)
        }
    }

    @Test("task_planned: invocations of every shape, labels, with and without a source, as the Codable form writes them")
    func taskPlanned() throws {
        var g = SystemRandomNumberGenerator()
        for round in 0..<1000 {
            var invocation = JSONObject()
            for key in Self.names.shuffled(using: &g).prefix(round % 7) { invocation[key] = Self.randomValue(depth: 0, &g) }
            // Literals as people type them: integers written as 1e2 or 100000000000000000000, fractions with zeros.
            if round % 5 == 0, case .object(let o)? = try? JSONParser.parse(#"{"a":1e2,"b":100000000000000000000,"c":1.50,"d":-0}"#) {
                for (k, v) in o { invocation[k] = v }
            }
            var labels: [String: String] = [:]
            for key in Self.names.prefix(round % 3) { labels[key] = Self.strings.randomElement(using: &g)! }
            let p = TaskPlanned(
                invocation: .object(invocation), commandLine: Self.strings.randomElement(using: &g)!, labels: labels,
                source: round % 2 == 0 ? nil : Self.strings.randomElement(using: &g)!)
            #expect(try #require(p.fastJSON()) == EventBody.encode(p))
        }
        #expect(TaskPlanned(invocation: ["mém": 1], commandLine: "x", labels: [:], source: nil).fastJSON() == nil)
    }
}

extension PayloadJSONTests {
    @Test("task_files: uses of every kind with fields present or absent, paths that need escaping, sets given and named")
    func taskFiles() throws {
        var g = SystemRandomNumberGenerator()
        func use() -> FileUse {
            FileUse(
                path: "/d/" + Self.strings.randomElement(using: &g)!, kind: FileUseKind.allCases.randomElement(using: &g)!,
                size: Bool.random(using: &g) ? Int64.random(in: 0..<Int64.max, using: &g) : nil,
                mtimeNs: Bool.random(using: &g) ? Int64.random(in: Int64.min..<Int64.max, using: &g) : nil,
                sha256: Bool.random(using: &g) ? String(repeating: "a", count: 64) : nil,
                to: Bool.random(using: &g) ? Self.strings.randomElement(using: &g)! : nil)
        }
        for round in 0..<300 {
            let sets = (0..<(round % 3)).map { k in
                FileSet(id: String(repeating: "\(k)", count: 64), files: k == 0 ? (0..<(round % 4)).map { _ in use() } : nil)
            }
            let p = TaskFiles(
                traced: round % 5 != 0, reason: round % 5 == 0 ? Self.strings.randomElement(using: &g)! : nil, calls: round % 2 == 0 ? round : nil,
                files: (0..<(round % 6)).map { _ in use() }, sets: sets, cwd: round % 3 == 0 ? nil : "/w/" + Self.strings.randomElement(using: &g)!,
                undeclared: round % 4 == 0 ? nil : Array(Self.strings.shuffled(using: &g).prefix(round % 3)))
            #expect(p.fastJSON() == (try EventBody.encode(p)))
        }
    }
}
