import JSON

/// The structure of a Boutiques 0.5 descriptor, as a JSON Schema (draft-04 vocabulary) checked by
/// `JSONSchemaValidator`. Written for clowdr from the Boutiques 0.5 specification; it states the same rules as
/// the official schema (required fields, types, id patterns, no unknown fields, the dependencies between input
/// fields, exactly one of `path-template` / `conditional-path-template`, no list Flags...). The conformance
/// tests check that it accepts and rejects the same descriptors as the official one.
enum DescriptorSchema {
    static let idPattern = #"^[0-9,_,a-z,A-Z]*$"#

    static let text = #"""
        {
          "type": "object",
          "required": ["name", "description", "tool-version", "schema-version", "command-line", "inputs"],
          "additionalProperties": false,
          "properties": {
            "name": {"type": "string", "minLength": 1},
            "tool-version": {"type": "string", "minLength": 1},
            "description": {"type": "string", "minLength": 1},
            "deprecated-by-doi": {"type": ["string", "boolean"], "minLength": 1},
            "author": {"type": "string", "minLength": 1},
            "url": {"type": "string", "minLength": 1},
            "descriptor-url": {"type": "string", "minLength": 1},
            "doi": {"type": "string", "minLength": 1},
            "shell": {"type": "string", "minLength": 1},
            "tool-doi": {"type": "string", "minLength": 1},
            "command-line": {"type": "string", "minLength": 1},
            "schema-version": {"type": "string", "enum": ["0.5"]},
            "container-image": {
              "type": "object",
              "properties": {
                "working-directory": {"type": "string", "minLength": 1},
                "container-hash": {"type": "string", "minLength": 1}
              },
              "oneOf": [
                {
                  "required": ["type", "image"], "additionalProperties": false,
                  "properties": {
                    "type": {"enum": ["docker", "singularity"]}, "image": {"type": "string", "minLength": 1},
                    "index": {"type": "string", "minLength": 1}, "entrypoint": {"type": "boolean"},
                    "container-opts": {"type": "array", "items": {"type": "string"}},
                    "working-directory": {}, "container-hash": {}
                  }
                },
                {
                  "required": ["type", "url"], "additionalProperties": false,
                  "properties": {
                    "type": {"enum": ["rootfs"]}, "url": {"type": "string", "minLength": 1},
                    "working-directory": {}, "container-hash": {}
                  }
                }
              ]
            },
            "environment-variables": {
              "type": "array", "minItems": 1, "uniqueItems": true,
              "items": {
                "type": "object", "required": ["name", "value"], "additionalProperties": false,
                "properties": {
                  "name": {"type": "string", "minLength": 1, "pattern": "^[a-z,A-Z][0-9,_,a-z,A-Z]*$"},
                  "value": {"type": "string"}, "description": {"type": "string"}
                }
              }
            },
            "groups": {
              "type": "array", "minItems": 1, "uniqueItems": true,
              "items": {
                "type": "object", "required": ["id", "name", "members"], "additionalProperties": false,
                "properties": {
                  "id": {"type": "string", "minLength": 1, "pattern": "^[0-9,_,a-z,A-Z]*$"},
                  "name": {"type": "string", "minLength": 1}, "description": {"type": "string"},
                  "members": {"type": "array", "items": {"type": "string", "minLength": 1, "pattern": "^[0-9,_,a-z,A-Z]*$"}},
                  "mutually-exclusive": {"type": "boolean"}, "one-is-required": {"type": "boolean"}, "all-or-none": {"type": "boolean"}
                }
              }
            },
            "inputs": {
              "type": "array", "minItems": 1, "uniqueItems": true,
              "items": {
                "type": "object", "required": ["id", "name", "type"], "additionalProperties": false,
                "properties": {
                  "id": {"type": "string", "minLength": 1, "pattern": "^[0-9,_,a-z,A-Z]*$"},
                  "name": {"type": "string", "minLength": 1},
                  "type": {"type": "string", "enum": ["String", "File", "Flag", "Number"]},
                  "description": {"type": "string"}, "value-key": {"type": "string"},
                  "list": {"type": "boolean"}, "list-separator": {"type": "string"}, "optional": {"type": "boolean"},
                  "command-line-flag": {"type": "string"}, "command-line-flag-separator": {"type": "string"},
                  "requires-inputs": {"type": "array", "items": {"type": "string"}},
                  "disables-inputs": {"type": "array", "items": {"type": "string"}},
                  "default-value": {},
                  "value-choices": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "number"}]}},
                  "value-requires": {"type": "object"}, "value-disables": {"type": "object"},
                  "integer": {"type": "boolean"}, "minimum": {"type": "number"}, "maximum": {"type": "number"},
                  "exclusive-minimum": {"type": "boolean"}, "exclusive-maximum": {"type": "boolean"},
                  "min-list-entries": {"type": "number"}, "max-list-entries": {"type": "number"},
                  "uses-absolute-path": {"type": "boolean"}
                },
                "anyOf": [
                  {"properties": {"type": {"enum": ["Flag"]}, "list": {"enum": [false]}}},
                  {"properties": {"type": {"enum": ["String", "File", "Number"]}}}
                ],
                "dependencies": {
                  "command-line-flag-separator": ["command-line-flag"],
                  "list-separator": ["list"], "min-list-entries": ["list"], "max-list-entries": ["list"],
                  "exclusive-minimum": ["minimum"], "exclusive-maximum": ["maximum"],
                  "value-disables": ["value-choices"], "value-enables": ["value-choices"],
                  "value-choices": {"properties": {"type": {"enum": ["String", "Number"]}}},
                  "integer": {"properties": {"type": {"enum": ["Number"]}}},
                  "minimum": {"properties": {"type": {"enum": ["Number"]}}},
                  "maximum": {"properties": {"type": {"enum": ["Number"]}}},
                  "uses-absolute-path": {"properties": {"type": {"enum": ["File"]}}}
                }
              }
            },
            "output-files": {
              "type": "array", "minItems": 1, "uniqueItems": true,
              "items": {
                "type": "object", "required": ["id", "name"], "additionalProperties": false,
                "properties": {
                  "id": {"type": "string", "minLength": 1, "pattern": "^[0-9,_,a-z,A-Z]*$"},
                  "name": {"type": "string", "minLength": 1}, "description": {"type": "string"},
                  "value-key": {"type": "string"}, "path-template": {"type": "string", "minLength": 1},
                  "conditional-path-template": {"type": "array", "minItems": 1, "items": {"type": "object"}},
                  "path-template-stripped-extensions": {"type": "array", "items": {"type": "string"}},
                  "list": {"type": "boolean"}, "optional": {"type": "boolean"},
                  "command-line-flag": {"type": "string"}, "command-line-flag-separator": {"type": "string"},
                  "uses-absolute-path": {"type": "boolean"},
                  "file-template": {"type": "array", "minItems": 1, "items": {"type": "string"}}
                },
                "oneOf": [
                  {"properties": {"path-template": {"enum": [true]}}},
                  {"properties": {"conditional-path-template": {"enum": [true]}}}
                ],
                "anyOf": [
                  {"properties": {"list": {"enum": [false]}}},
                  {"properties": {"file-template": {"enum": [false]}}}
                ],
                "dependencies": {"command-line-flag-separator": ["command-line-flag"]}
              }
            },
            "tests": {
              "type": "array", "minItems": 1,
              "items": {
                "type": "object", "required": ["name", "invocation", "assertions"],
                "properties": {
                  "name": {"type": "string", "minLength": 1}, "invocation": {"type": "object"},
                  "assertions": {
                    "type": "object",
                    "anyOf": [{"required": ["exit-code"]}, {"required": ["output-files"]}],
                    "properties": {
                      "exit-code": {"type": "integer"},
                      "output-files": {
                        "type": "array", "minItems": 1,
                        "items": {
                          "type": "object", "required": ["id"],
                          "properties": {
                            "id": {"type": "string", "minLength": 1, "pattern": "^[0-9,_,a-z,A-Z]*$"},
                            "md5-reference": {"type": "string", "minLength": 1}
                          }
                        }
                      }
                    }
                  }
                }
              }
            },
            "online-platform-urls": {"type": "array", "items": {"type": "string", "pattern": "^https?://"}},
            "invocation-schema": {"type": "object"},
            "suggested-resources": {
              "type": "object",
              "properties": {
                "cpu-cores": {"type": "integer", "minimum": 1}, "ram": {"type": "number", "minimum": 0},
                "disk-space": {"type": "number", "minimum": 0}, "nodes": {"type": "integer", "minimum": 1},
                "walltime-estimate": {"type": "number", "minimum": 0}
              }
            },
            "tags": {"type": "object", "additionalProperties": {"type": ["string", "array", "boolean"], "items": {"type": "string"}}},
            "error-codes": {
              "type": "array", "minItems": 1, "uniqueItems": true,
              "items": {
                "type": "object", "required": ["code", "description"], "additionalProperties": false,
                "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}
              }
            },
            "custom": {"type": "object"}
          }
        }
        """#

    /// The schema, parsed once.
    static let schema: JSONValue = try! JSONParser.parse(text)
    static let validator = JSONSchemaValidator(schema: schema)
}
