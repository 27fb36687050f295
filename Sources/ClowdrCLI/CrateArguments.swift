import ArgumentParser
import Export

/// Who publishes a crate and under which terms: shared by `export rocrate` and `archive` (an archive is a crate).
struct CrateArguments: ParsableArguments {
    @Option(help: "The license of the record: an SPDX identifier (CC-BY-4.0) or a URL.")
    var license: String?

    @Option(help: "The organization that publishes the record (the user's affiliation).")
    var publisher: String?

    @Option(help: "The publishing organization's web address.")
    var publisherURL: String?

    func validate() throws {
        if let l = license, l.isEmpty || l.contains(" ") {
            throw ValidationError("--license \(l): expected an SPDX identifier such as CC-BY-4.0, or a URL")
        }
        if let u = publisherURL, !(u.hasPrefix("https://") || u.hasPrefix("http://")) {
            throw ValidationError("--publisher-url \(u): expected an http(s) address")
        }
        if publisherURL != nil && publisher == nil { throw ValidationError("--publisher-url: give --publisher NAME as well") }
    }

    func options(withData: Bool = false) -> ROCrateExport.Options {
        ROCrateExport.Options(license: license, publisher: publisher, publisherURL: publisherURL, withData: withData)
    }
}
