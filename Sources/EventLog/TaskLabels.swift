import JSON

/// A task's labels (participant, session, swept values, invocation file: what tells it apart), as every view shows
/// them.
public enum TaskLabels {
    /// `{"participant":"01","session":"1"}` (the `labels` column of `tasks`) as `participant=01 session=1`, keys
    /// sorted; "" for none.
    public static func text(_ json: String?) -> String {
        guard let json, json != "{}", case .object(let o)? = try? JSONParser.parse(json) else { return "" }
        return text(Dictionary(o.map { ($0.key, $0.value.stringValue ?? $0.value.description) }, uniquingKeysWith: { a, _ in a }))
    }

    /// The same from the planned labels.
    public static func text(_ labels: [String: String]) -> String {
        labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: " ")
    }

    /// `task 9 (participant=05 session=2)`, or `task 9` for a task without labels.
    public static func taskName(_ task: String, labels json: String?) -> String {
        let l = text(json)
        return l.isEmpty ? "task \(task)" : "task \(task) (\(l))"
    }
}
