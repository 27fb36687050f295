// libFuzzer target for the Boutiques parsers: the input is taken as a descriptor and as an invocation of a
// fixed descriptor; parsing, validation and rendering must never crash, whatever the bytes.
// Build and run: scripts/fuzz.sh [SECONDS]
import Boutiques
import JSON

let fixedDescriptor: Descriptor = {
    let text = #"""
        {"name":"fuzz","tool-version":"1","description":"d","schema-version":"0.5",
         "command-line":"tool [S] [F] [N] [L] [FLAG] [O] [C]",
         "inputs":[{"id":"s","name":"s","type":"String","value-key":"[S]","command-line-flag":"-s"},
                   {"id":"f","name":"f","type":"File","value-key":"[F]","optional":true},
                   {"id":"n","name":"n","type":"Number","value-key":"[N]","optional":true,"minimum":0,"maximum":10},
                   {"id":"l","name":"l","type":"String","list":true,"value-key":"[L]","optional":true,"max-list-entries":4},
                   {"id":"flag","name":"flag","type":"Flag","value-key":"[FLAG]","command-line-flag":"-x","optional":true}],
         "output-files":[{"id":"o","name":"o","value-key":"[O]","path-template":"out/[F]_[S].txt","path-template-stripped-extensions":[".txt"]},
                         {"id":"c","name":"c","value-key":"[C]","optional":true,"conditional-path-template":[{"n > 5":"big_[N]"},{"flag":"f_[S]"},{"default":"d"}]}],
         "groups":[{"id":"g","name":"g","members":["n","flag"],"mutually-exclusive":true}]}
        """#
    return try! DescriptorValidator.validate(try! JSONParser.parse(text))
}()
let renderer = Renderer(fixedDescriptor, workingDirectory: "/tmp")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let value = try? JSONParser.parse(bytes, limits: BoutiquesDocument.limits) else { return 0 }
    // As a descriptor: validate, then render an empty and a generated invocation.
    if let d = try? DescriptorValidator.validate(value) {
        let r = Renderer(d, workingDirectory: "/tmp")
        _ = try? r.render(.object(JSONObject()))
        var inv = JSONObject()
        for i in d.inputs { inv[i.id] = i.defaultValue ?? i.valueChoices?.first ?? (i.type == .flag ? .bool(true) : i.type == .number ? 1 : "v") }
        _ = try? r.render(.object(inv))
    }
    // As an invocation of the fixed descriptor.
    _ = try? renderer.render(value)
    _ = JSONWriter().string(value)
    return 0
}
