public import ClowdrErrors

/// One problem found in a descriptor or an invocation: which file, where in it (a JSON pointer such as
/// `/inputs/3/value-key`), which rule, and what was expected and found.
public struct BoutiquesIssue: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The file, when the document came from one.
    public var file: String?
    /// JSON pointer of the offending value ("" for the whole document).
    public var pointer: String
    /// The rule that failed, e.g. `schema.required`, `KeyError`, `InputError`, `invocation.type`.
    public var rule: String
    /// What was expected and what was found.
    public var message: String

    public init(file: String? = nil, pointer: String, rule: String, message: String) {
        self.file = file
        self.pointer = pointer
        self.rule = rule
        self.message = message
    }

    public var description: String {
        "\(file.map { "\($0): " } ?? "")\(pointer.isEmpty ? "/" : pointer): [\(rule)] \(message)"
    }
}

/// Why a descriptor or invocation was refused, or a command line could not be made. Every issue is reported,
/// not just the first.
public struct BoutiquesError: CodedError {
    public var errorCode: String { code.rawValue }
    public var isUsageError: Bool { true }

    /// A stable identifier for the kind of failure.
    public enum Code: String, Sendable {
        /// The file could not be read, or is not JSON (the issue gives the line and column).
        case unreadable = "boutiques.unreadable"
        /// The descriptor breaks the Boutiques schema or its rules.
        case invalidDescriptor = "boutiques.invalid_descriptor"
        /// The invocation does not fit the descriptor.
        case invalidInvocation = "boutiques.invalid_invocation"
        /// A value cannot be put on the command line or in an output name (where bosh would crash).
        case evaluation = "boutiques.evaluation"
    }

    public var code: Code
    public var issues: [BoutiquesIssue]

    public init(_ code: Code, _ issues: [BoutiquesIssue]) {
        self.code = code
        self.issues = issues
    }

    public var description: String {
        let what: String
        switch code {
        case .unreadable: what = "cannot read"
        case .invalidDescriptor: what = "invalid descriptor"
        case .invalidInvocation: what = "invalid invocation"
        case .evaluation: what = "cannot evaluate"
        }
        return "\(what) (\(issues.count) problem\(issues.count == 1 ? "" : "s")):\n" + issues.map { "  \($0)" }.joined(separator: "\n")
    }
}
