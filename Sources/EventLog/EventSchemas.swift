import JSON

/// The JSON Schemas of `schema/events/`, carried in the binary (`scripts/embed-schema.sh`): what a segment line's
/// payload must be before ingest takes it. Compiled once, on first use.
enum EventSchemas {
    /// The validator of each event type's payload.
    static let validators: [String: JSONSchemaValidator] = texts.compactMapValues { text in
        (try? JSONParser.parse(text)).map { JSONSchemaValidator(schema: $0) }
    }

    /// What is wrong with a payload of `type` (its JSON text), worded for a person; nil when it is valid.
    static func problem(type: String, payload: String) -> String? {
        guard let validator = validators[type] else { return "no schema for type \(type)" }
        let value: JSONValue
        do { value = try JSONParser.parse(payload) } catch { return "the payload is not JSON: \(error)" }
        guard let first = validator.validate(value).first else { return nil }
        return "the payload does not match schema/events/\(type).schema.json: \(first)"
    }
}
