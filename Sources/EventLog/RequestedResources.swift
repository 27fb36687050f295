/// What an attempt asked of its scheduler, read from the `resources` of its `task_submitted` (the keys of
/// `--clusterargs`, in Slurm's notation): memory, CPUs and time limit. Keys that say nothing about these
/// (partition, account...) are left out; a value that cannot be read is as if absent.
public struct RequestedResources: Sendable, Equatable {
    /// Bytes (`mem`/`memory`: `2048` is MB, `500M`, `2G`, `1T`, `100K`).
    public var memory: Int64?
    /// CPUs per task (`cpus`/`cpus-per-task`/`c`).
    public var cpus: Int?
    /// Seconds (`time`/`t`: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`).
    public var timeLimit: Double?

    public init(memory: Int64? = nil, cpus: Int? = nil, timeLimit: Double? = nil) {
        self.memory = memory
        self.cpus = cpus
        self.timeLimit = timeLimit
    }

    public init(_ resources: [String: String]?) {
        let r = resources ?? [:]
        memory = (r["mem"] ?? r["memory"]).flatMap(Self.memoryBytes)
        cpus = (r["cpus"] ?? r["cpus-per-task"] ?? r["c"]).flatMap { Int($0) }
        timeLimit = (r["time"] ?? r["t"]).flatMap(Self.timeSeconds)
    }

    /// Slurm's `--mem` values as bytes: a plain number is MB; K, M, G and T suffixes (either case).
    public static func memoryBytes(_ s: String) -> Int64? {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        if let u = s.last.flatMap({ units[Character($0.uppercased())] }) { return Int64(s.dropLast()).map { $0 * u } }
        return Int64(s).map { $0 << 20 }
    }

    /// Slurm's `--time` values as seconds: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
    public static func timeSeconds(_ s: String) -> Double? {
        var days = 0.0
        var rest = Substring(s)
        let hasDays = s.contains("-")
        if let dash = s.firstIndex(of: "-") {
            guard let d = Double(s[..<dash]) else { return nil }
            days = d
            rest = s[s.index(after: dash)...]
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false).map { Double($0) }
        guard !parts.isEmpty, parts.count <= 3, parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        let v = parts.map { $0! }
        let seconds: Double
        if hasDays {
            seconds = zip(v, [3600.0, 60, 1]).reduce(0) { $0 + $1.0 * $1.1 }
        } else {
            switch v.count {
            case 1: seconds = v[0] * 60
            case 2: seconds = v[0] * 60 + v[1]
            default: seconds = v[0] * 3600 + v[1] * 60 + v[2]
            }
        }
        return days * 86400 + seconds
    }
}
