extension String {
    /// Whether some UTF-8 byte of the string satisfies `predicate`. Reads the bytes in place when the string is
    /// stored contiguously (the usual case) rather than stepping through `utf8`'s indices.
    @inlinable public func containsUTF8(where predicate: (UInt8) throws -> Bool) rethrows -> Bool {
        if let found = try utf8.withContiguousStorageIfAvailable({ try $0.contains(where: predicate) }) { return found }
        return try utf8.contains(where: predicate)
    }

    /// Whether every UTF-8 byte of the string satisfies `predicate` (in place, as `containsUTF8`).
    @inlinable public func allUTF8(satisfy predicate: (UInt8) throws -> Bool) rethrows -> Bool {
        try !containsUTF8 { try !predicate($0) }
    }
}
