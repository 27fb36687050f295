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
