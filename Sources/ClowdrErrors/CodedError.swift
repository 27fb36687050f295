/// An error every clowdr library throws: a stable code for scripts and tests, a message for people that says what
/// failed, where, and what to do, and whether it is a usage error (bad input: exit 2) or a failure at run time
/// (exit 1).
///
/// Codes are `<area>.<what>` in lower case (`plan.bids_label_missing`, `eventlog.not_found`), never reused for
/// another meaning once released. The command line prints `clowdr: error[<code>]: <message>`, and with `--json`
/// also `{"error":{"code":...,"message":...}}` on standard output.
public protocol CodedError: Error, Sendable, CustomStringConvertible {
    /// The stable code.
    var errorCode: String { get }
    /// True when the input was wrong (a file, a flag, a value), false when something failed while working.
    var isUsageError: Bool { get }
}

/// A coded error that is only its code, its message and whether it is a usage error: what most of clowdr's
/// libraries throw under their own name (`BackendError`, `AWSError`).
public struct CodedFailure: CodedError {
    public var errorCode: String
    public var message: String
    public var isUsageError: Bool
    public init(_ message: String, code: String, usage: Bool = false) {
        self.message = message
        errorCode = code
        isUsageError = usage
    }
    public var description: String { message }
}
