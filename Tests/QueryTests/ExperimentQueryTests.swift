import EventLog
import Foundation
import Query
import TestSupport
import Testing

/// The questions `clowdr query` asks, answered in-process.
@Suite("Queries, in-process")
struct ExperimentQueryTests {
    let experiment: SmallExperiment
    let query: ExperimentQuery

    init() throws {
        experiment = try SmallExperiment()
        query = try ExperimentQuery(path: experiment.log)
    }

    func column(_ t: ResultTable, _ name: String) -> [ResultTable.Cell] {
        let i = t.columns.firstIndex(of: name)!
        return t.rows.map { $0[i] }
    }

    @Test("--top ram ranks the latest attempts by peak RAM; --attempts all ranks every attempt")
    func top() throws {
        let t = try query.top(.ram, n: 3, allAttempts: false)
        #expect(column(t, "task") == [.text("3"), .text("10"), .text("9")])
        let all = try query.top(.duration, n: 2, allAttempts: true)
        #expect(column(all, "task").first == .text("3") && column(all, "attempt").first == .int(2))
    }

    @Test("--status, incomplete tasks, and --where on labels and invocation values")
    func filters() throws {
        #expect(column(try query.tasks(state: "failed"), "task") == [.text("5")])
        #expect(column(try query.tasks(state: "planned"), "task") == [.text("11")])
        #expect(column(try query.tasks(state: nil, filters: [("participant", "04")]), "task") == [.text("4")])
        #expect(try query.tasks(state: nil, filters: [("site", "B")]).rows.count == 6)
        #expect(column(try query.tasks(state: nil, incompleteTasks: ["11"]), "task") == [.text("11")])
    }

    @Test("--outliers finds the task far from the others; --summary counts states and attempts")
    func outliersAndSummary() throws {
        #expect(column(try query.outliers(.duration, threshold: 3.5), "task") == [.text("3")])
        let summary = try query.summary()
        let counts = Dictionary(
            uniqueKeysWithValues: summary.rows.compactMap { r -> (String, ResultTable.Cell)? in
                guard case .text(let what) = r[0] else { return nil }
                return (what, r[1])
            })
        #expect(counts["tasks succeeded"] == .int(10) && counts["tasks failed"] == .int(1) && counts["tasks planned"] == .int(1))
        #expect(counts["attempts"] == .int(12))
    }

    @Test("--sql reads the documented views, and only reads")
    func sql() throws {
        let t = try query.sql("SELECT count(*) FROM exits")
        #expect(t.rows == [[.int(12)]])
        let planned = try query.sql("SELECT task, seq FROM planned ORDER BY seq LIMIT 1")
        #expect(planned.rows.first?.first == .text("0"))
        #expect(throws: (any Error).self) { try query.sql("DELETE FROM events") }
    }

    @Test("a task's detail: its plan, each attempt, outputs, and the last lines of stderr; a missing task is a usage error")
    func detail() throws {
        let layout = ExperimentLayout(directory: experiment.directory)
        let t = try query.detail(task: "3", layout: layout)
        let fields = t.rows.map { r -> String in
            if case .text(let s) = r[1] { return s }
            return ""
        }
        #expect(fields.prefix(4) == ["command_line", "invocation", "labels", "state"])
        #expect(fields.filter { $0 == "exit" }.count == 2 && fields.contains("output out"))
        let five = try query.detail(task: "5", layout: layout)
        let stderr = five.rows.filter { $0[1] == .text("stderr") }.map { $0[2] }
        #expect(stderr == [.text("first"), .text("second"), .text("third")], "non-empty lines, CRLF or LF")
        #expect(throws: (any Error).self) { try query.detail(task: "99", layout: layout) }
    }
}

/// The last lines of a file, read from its end.
@Suite("Log tails")
struct LogTailTests {
    @Test("the last N lines within a byte budget, a cut first line dropped, a missing file empty")
    func tails() throws {
        let dir = try TestSupport.temporaryDirectory("tail")
        let path = dir + "/log"
        try (1...100).map { "line \($0)" }.joined(separator: "\n").appending("\n").write(toFile: path, atomically: true, encoding: .utf8)
        let three = LogTail.read(path: path, lines: 3, bytes: 1 << 20)
        #expect(three.text == "line 98\nline 99\nline 100\n" && !three.complete)
        let cut = LogTail.read(path: path, lines: 1000, bytes: 20)
        #expect(cut.text == "line 99\nline 100\n" && !cut.complete, "the partial 'ne 98' is dropped")
        #expect(LogTail.read(path: path, lines: 1000, bytes: 1 << 20).complete)
        #expect(LogTail.read(path: dir + "/none", lines: 3, bytes: 100).size == -1)
        #expect(LogTail.lastLines(of: path, count: 2) == ["line 99", "line 100"])
    }
}
