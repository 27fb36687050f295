import SQLite

/// Applies the schema's numbered migrations (`schema/sql/NNN-*.sql`), tracked with `PRAGMA user_version`.
enum Migrations {
    /// The schema version this build writes.
    static var latest: Int { all.count }

    /// Brings the database up to the latest version, each migration in its own transaction.
    static func migrate(_ db: Connection) throws {
        let current = Int(try db.scalar("PRAGMA user_version")?.int64 ?? 0)
        if current > latest {
            throw EventLogError.incompatible(
                path: db.path, reason: "its schema version is \(current), this clowdr knows up to \(latest); use a newer clowdr")
        }
        if current == latest { return }
        try db.transaction {
            // Re-read under the write lock: another process may have migrated meanwhile.
            let now = Int(try db.scalar("PRAGMA user_version")?.int64 ?? 0)
            for (index, migration) in all.enumerated() where index + 1 > now {
                try db.execute(migration.sql)
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}
