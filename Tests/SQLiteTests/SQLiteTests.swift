import Foundation
import SQLite
import TestSupport
import Testing

@Suite("SQLite wrapper")
struct SQLiteTests {
    @Test("values round-trip through a table")
    func roundTrip() throws {
        let db = try Connection(path: ":memory:")
        try db.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)")
        try db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?)").run([.integer(-7), .real(2.5), .text("é\u{0}x"), .blob([0, 1, 255]), .null])
        let rows = try db.rows("SELECT * FROM t")
        #expect(rows == [[.integer(-7), .real(2.5), .text("é\u{0}x"), .blob([0, 1, 255]), .null]])
    }

    @Test("errors carry SQLite's code, message and the statement")
    func errors() throws {
        let db = try Connection(path: ":memory:")
        try db.execute("CREATE TABLE t (id TEXT UNIQUE)")
        try db.execute("INSERT INTO t VALUES ('a')")
        #expect {
            try db.execute("INSERT INTO t VALUES ('a')")
        } throws: { e in
            let e = e as! SQLiteError
            return e.isConstraint && e.extendedCode == 2067 && e.message.contains("UNIQUE") && e.context.contains("INSERT")
        }
        #expect(throws: SQLiteError.self) { try db.prepare("SELEKT 1") }
    }

    @Test("a transaction rolls back when its body throws")
    func rollback() throws {
        struct Boom: Error {}
        let db = try Connection(path: ":memory:")
        try db.execute("CREATE TABLE t (x)")
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.execute("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try db.scalar("SELECT count(*) FROM t") == .integer(0))
        #expect(!db.inTransaction)
    }

    @Test("online backup copies a consistent database")
    func backup() throws {
        let dir = try TestSupport.temporaryDirectory("backup")
        let db = try Connection(path: dir + "/a.db")
        try db.execute("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3)")
        try db.backup(to: dir + "/b.db")
        let copy = try Connection(path: dir + "/b.db", mode: .readOnly)
        #expect(try copy.scalar("SELECT sum(x) FROM t") == .integer(6))
    }

    @Test("a read-only connection cannot write")
    func readOnly() throws {
        let dir = try TestSupport.temporaryDirectory("ro")
        try Connection(path: dir + "/a.db").execute("CREATE TABLE t (x)")
        let ro = try Connection(path: dir + "/a.db", mode: .readOnly)
        #expect(throws: SQLiteError.self) { try ro.execute("INSERT INTO t VALUES (1)") }
        #expect(throws: SQLiteError.self) { try Connection(path: dir + "/missing.db", mode: .readOnly) }
    }
}
