import Foundation
public import JSON

/// A Boutiques 0.5 tool descriptor, as value types. Built from a document that passed `DescriptorValidator`'s
/// schema check; the original JSON is kept in `json`, in document order.
public struct Descriptor: Sendable {
    /// The type of an input.
    public enum InputType: String, Sendable, CaseIterable {
        case string = "String"
        case file = "File"
        case flag = "Flag"
        case number = "Number"
    }

    /// One input parameter of the tool.
    public struct Input: Sendable {
        public var id: String
        public var name: String
        public var type: InputType
        public var valueKey: String?
        public var optional: Bool
        public var commandLineFlag: String?
        public var flagSeparator: String?
        public var list: Bool
        public var listSeparator: String?
        public var minListEntries: Int64?
        public var maxListEntries: Int64?
        public var defaultValue: JSONValue?
        public var valueChoices: [JSONValue]?
        public var integer: Bool
        public var minimum: JSONNumber?
        public var maximum: JSONNumber?
        public var exclusiveMinimum: Bool
        public var exclusiveMaximum: Bool
        public var requiresInputs: [String]
        public var disablesInputs: [String]
        public var valueRequires: JSONObject?
        public var valueDisables: JSONObject?
        public var usesAbsolutePath: Bool
        /// Where it sits in the descriptor, for messages.
        public var pointer: String
    }

    /// One output file of the tool.
    public struct Output: Sendable {
        public var id: String
        public var name: String
        public var valueKey: String?
        public var pathTemplate: String?
        /// `[{condition: path}]` in order; the condition `default` always matches.
        public var conditionalPathTemplate: [(condition: String, path: String)]?
        public var strippedExtensions: [String]
        public var list: Bool
        public var optional: Bool
        /// Whether `optional` was written at all (bosh needs it on conditional outputs).
        public var optionalGiven: Bool
        public var commandLineFlag: String?
        public var flagSeparator: String?
        public var usesAbsolutePath: Bool
        public var fileTemplate: [String]?
        public var pointer: String
    }

    /// A group of inputs with a rule.
    public struct Group: Sendable {
        public var id: String
        public var name: String
        public var members: [String]
        /// nil when the key is absent (bosh treats a present `false` like `true` for invocations).
        public var mutuallyExclusive: Bool?
        public var oneIsRequired: Bool
        public var allOrNone: Bool
        public var pointer: String
    }

    /// The container the tool runs in.
    public struct ContainerImage: Sendable {
        public var type: String
        public var image: String?
        public var index: String?
        public var containerOpts: [String]?
        public var workingDirectory: String?
        public var url: String?
    }

    /// An environment variable set for the tool.
    public struct EnvironmentVariable: Sendable {
        public var name: String
        public var value: String
    }

    public var json: JSONObject
    public var name: String
    public var toolVersion: String
    public var description: String
    public var commandLine: String
    public var inputs: [Input]
    public var outputs: [Output]
    public var groups: [Group]
    public var container: ContainerImage?
    /// The shell for container scripts (default `/bin/sh`); not used on bare metal.
    public var shell: String?
    public var environment: [EnvironmentVariable]
    /// `code` to description.
    public var errorCodes: [(code: Int64, description: String)]
    /// A schema the descriptor gives for its invocations, used instead of the generated one.
    public var invocationSchema: JSONValue?

    /// The input with this id.
    public func input(_ id: String) -> Input? { inputs.first { $0.id == id } }

    /// Reads the fields of a structurally valid descriptor document.
    init(json o: JSONObject) {
        json = o
        name = o["name"]?.stringValue ?? ""
        toolVersion = o["tool-version"]?.stringValue ?? ""
        description = o["description"]?.stringValue ?? ""
        commandLine = o["command-line"]?.stringValue ?? ""
        inputs = (o["inputs"]?.arrayValue ?? []).enumerated().compactMap { i, v in v.objectValue.map { Descriptor.input($0, pointer: "/inputs/\(i)") }
        }
        outputs = (o["output-files"]?.arrayValue ?? []).enumerated().compactMap { i, v in
            v.objectValue.map { Descriptor.output($0, pointer: "/output-files/\(i)") }
        }
        groups = (o["groups"]?.arrayValue ?? []).enumerated().compactMap { i, v in
            guard let g = v.objectValue else { return nil }
            return Group(
                id: g["id"]?.stringValue ?? "", name: g["name"]?.stringValue ?? "",
                members: g["members"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                mutuallyExclusive: g["mutually-exclusive"]?.boolValue, oneIsRequired: g["one-is-required"]?.boolValue ?? false,
                allOrNone: g["all-or-none"]?.boolValue ?? false, pointer: "/groups/\(i)")
        }
        if let c = o["container-image"]?.objectValue {
            container = ContainerImage(
                type: c["type"]?.stringValue ?? "docker", image: c["image"]?.stringValue, index: c["index"]?.stringValue,
                containerOpts: c["container-opts"]?.arrayValue?.compactMap(\.stringValue), workingDirectory: c["working-directory"]?.stringValue,
                url: c["url"]?.stringValue)
        }
        shell = o["shell"]?.stringValue
        environment = (o["environment-variables"]?.arrayValue ?? []).compactMap {
            guard let n = $0["name"]?.stringValue, let v = $0["value"]?.stringValue else { return nil }
            return EnvironmentVariable(name: n, value: v)
        }
        errorCodes = (o["error-codes"]?.arrayValue ?? []).compactMap {
            guard let c = $0["code"]?.int64Value else { return nil }
            return (c, $0["description"]?.stringValue ?? "")
        }
        invocationSchema = o["invocation-schema"]
    }

    static func input(_ i: JSONObject, pointer: String) -> Input {
        Input(
            id: i["id"]?.stringValue ?? "", name: i["name"]?.stringValue ?? "", type: InputType(rawValue: i["type"]?.stringValue ?? "") ?? .string,
            valueKey: i["value-key"]?.stringValue, optional: i["optional"]?.boolValue ?? false, commandLineFlag: i["command-line-flag"]?.stringValue,
            flagSeparator: i["command-line-flag-separator"]?.stringValue, list: i["list"]?.boolValue ?? false,
            listSeparator: i["list-separator"]?.stringValue, minListEntries: i["min-list-entries"]?.int64Value,
            maxListEntries: i["max-list-entries"]?.int64Value, defaultValue: i["default-value"], valueChoices: i["value-choices"]?.arrayValue,
            integer: i["integer"]?.boolValue ?? false, minimum: i["minimum"]?.numberValue, maximum: i["maximum"]?.numberValue,
            exclusiveMinimum: i["exclusive-minimum"]?.boolValue ?? false, exclusiveMaximum: i["exclusive-maximum"]?.boolValue ?? false,
            requiresInputs: i["requires-inputs"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            disablesInputs: i["disables-inputs"]?.arrayValue?.compactMap(\.stringValue) ?? [], valueRequires: i["value-requires"]?.objectValue,
            valueDisables: i["value-disables"]?.objectValue, usesAbsolutePath: i["uses-absolute-path"]?.boolValue ?? false, pointer: pointer)
    }

    static func output(_ o: JSONObject, pointer: String) -> Output {
        let conditional: [(condition: String, path: String)]? = o["conditional-path-template"]?.arrayValue.map { entries in
            entries.flatMap { e in (e.objectValue?.entries ?? []).compactMap { kv in kv.value.stringValue.map { (kv.key, $0) } } }
        }
        return Output(
            id: o["id"]?.stringValue ?? "", name: o["name"]?.stringValue ?? "", valueKey: o["value-key"]?.stringValue,
            pathTemplate: o["path-template"]?.stringValue, conditionalPathTemplate: conditional,
            strippedExtensions: o["path-template-stripped-extensions"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            list: o["list"]?.boolValue ?? false,
            optional: o["optional"]?.boolValue ?? false, optionalGiven: o["optional"] != nil, commandLineFlag: o["command-line-flag"]?.stringValue,
            flagSeparator: o["command-line-flag-separator"]?.stringValue, usesAbsolutePath: o["uses-absolute-path"]?.boolValue ?? false,
            fileTemplate: o["file-template"]?.arrayValue?.compactMap(\.stringValue), pointer: pointer)
    }
}

/// Reading descriptor and invocation documents from files or text, with limits.
public enum BoutiquesDocument {
    /// Documents larger than this are refused (a descriptor is a few kilobytes; an invocation rarely more).
    public static let limits = JSONParser.Limits(maxBytes: 16 << 20, maxDepth: 64)

    /// Parses JSON text, naming the file and the line and column of a syntax error.
    public static func parse(_ text: String, file: String?) throws(BoutiquesError) -> JSONValue {
        do { return try JSONParser.parse(text, limits: limits) } catch {
            throw BoutiquesError(
                .unreadable, [BoutiquesIssue(file: file, pointer: "", rule: error.code.rawValue, message: "not valid JSON: \(error)")])
        }
    }

    /// Reads and parses a file.
    public static func load(_ path: String) throws(BoutiquesError) -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BoutiquesError(
                .unreadable, [BoutiquesIssue(file: path, pointer: "", rule: "io", message: "cannot read the file (missing, or not readable)")])
        }
        if data.count > limits.maxBytes {
            throw BoutiquesError(
                .unreadable,
                [
                    BoutiquesIssue(
                        file: path, pointer: "", rule: "json.too_large",
                        message: "the file is \(data.count) bytes, more than the limit of \(limits.maxBytes)")
                ])
        }
        do { return try JSONParser.parse([UInt8](data), limits: limits) } catch {
            throw BoutiquesError(
                .unreadable, [BoutiquesIssue(file: path, pointer: "", rule: error.code.rawValue, message: "not valid JSON: \(error)")])
        }
    }
}
