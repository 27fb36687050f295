/// A growable run of bytes that the append path writes the text of a chunk of rows into, then binds from.
///
/// Plain memory rather than `[UInt8]`: no copy-on-write check, no zero-filling before writing, no exclusivity
/// check per write. Positions are offsets, so they stay valid when the arena grows. The owner frees it with
/// `deallocate()` (it is a value holding a pointer: copies share the memory and must not outlive the owner's).
struct ByteArena {
    private(set) var base: UnsafeMutablePointer<UInt8>
    /// Bytes written so far.
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 1 << 16) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    /// Frees the memory. The arena (and every copy of it) must not be used afterwards.
    func deallocate() { base.deallocate() }

    /// Forgets what was written; keeps the memory.
    mutating func removeAll() { count = 0 }

    /// Writes with `body`, which gets room for at least `maxBytes` bytes and returns how many it wrote.
    mutating func write(maxBytes: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) -> Range<Int> {
        if count + maxBytes > capacity { grow(to: count + maxBytes) }
        let start = count
        count += body(base + start)
        return start..<count
    }

    /// Appends a string's UTF-8.
    mutating func append(_ s: String) -> Range<Int> {
        var s = s
        return s.withUTF8 { utf8 in
            write(maxBytes: utf8.count) { to in
                if let from = utf8.baseAddress { to.update(from: from, count: utf8.count) }
                return utf8.count
            }
        }
    }

    /// The bytes at `range`: valid until the arena grows, is cleared, or is freed.
    subscript(range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = newCapacity
    }
}
