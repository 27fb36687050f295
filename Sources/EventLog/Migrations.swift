import SQLite

/// Applies the schema's numbered migrations (`schema/sql/NNN-*.sql`), tracked with `PRAGMA user_version`.
enum Migrations {
    /// Replaces the projection tables with a rebuild from the events alone (they are caches of the events).
    static func rebuildProjections(_ db: Connection) throws {
        let state = try EventLog.replay(db)
        try db.execute("DELETE FROM attempts; DELETE FROM tasks")
        let tables = try ProjectionTables(db)
        for task in state.orderedTasks { try tables.save(task, previous: nil) }
    }

    /// The schema version this build writes.
    static var latest: Int { all.count }
    /// The oldest schema a reader can read without migrating: later migrations only add what readers do not need
    /// (004: the ingest's bookkeeping). A reader never migrates.
    /// 007 added the attempts' `figures` column, which readers select.
    static let oldestReadable = 7

    /// Brings the database up to the latest version in one transaction. Returns the version it had.
    @discardableResult
    static func migrate(_ db: Connection) throws -> Int {
        let current = Int(try db.scalar("PRAGMA user_version")?.int64 ?? 0)
        if current > latest {
            throw EventLogError.incompatible(
                path: db.path, reason: "its schema version is \(current), this clowdr knows up to \(latest); use a newer clowdr")
        }
        if current == latest { return current }
        return try db.transaction {
            // Re-read under the write lock: another process may have migrated meanwhile.
            let now = Int(try db.scalar("PRAGMA user_version")?.int64 ?? 0)
            for (index, migration) in all.enumerated() where index + 1 > now {
                try db.execute(migration.sql)
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
            // An older log's projections may lack what new columns hold: rebuild them from the events.
            if now > 0 { try rebuildProjections(db) }
            return now
        }
    }
}
