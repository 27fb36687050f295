import Foundation

/// What a BIDS dataset holds, as the planner needs it: the participants and sessions that have data, and what was
/// passed over (with why), read from the `sub-*` / `ses-*` folders and `participants.tsv`.
struct BIDSDataset: Sendable {
    /// The dataset's folder.
    var root: String
    /// Each participant with data (label without `sub-`), with its sessions that have data (labels without `ses-`;
    /// empty when the participant has no session folders).
    var participants: [String: [String]] = [:]
    /// What was not planned, or disagrees, said for a person.
    var warnings: [String] = []

    /// A BIDS label: letters and digits only (the specification's `[a-zA-Z0-9]+`).
    static func isLabel(_ s: Substring) -> Bool { !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }

    /// Where the dataset's files are read.
    var tree: any DatasetTree

    /// Scans `root` (which holds `dataset_description.json`) in `tree`.
    init(root: String, tree: any DatasetTree = LocalDatasetTree()) {
        self.root = root
        self.tree = tree
        for name in tree.folders(root, prefix: "sub-") {
            let label = name.dropFirst(4)
            guard Self.isLabel(label) else {
                warnings.append("\(root)/\(name): not a BIDS participant folder (a label is letters and digits only): not planned")
                continue
            }
            let sessionFolders = tree.folders(root + "/" + name, prefix: "ses-")
            if sessionFolders.isEmpty {
                if tree.holdsAFile(root + "/" + name) {
                    participants[String(label)] = []
                } else {
                    warnings.append("\(root)/\(name) holds no file: not planned")
                }
                continue
            }
            var sessions: [String] = []
            for ses in sessionFolders {
                let path = "\(root)/\(name)/\(ses)"
                if !Self.isLabel(ses.dropFirst(4)) {
                    warnings.append("\(path): not a BIDS session folder (a label is letters and digits only): not planned")
                } else if !tree.holdsAFile(path) {
                    warnings.append("\(path) holds no file: not planned")
                } else {
                    sessions.append(String(ses.dropFirst(4)))
                }
            }
            if !sessions.isEmpty { participants[String(label)] = sessions }
        }
        compareParticipantsTable()
    }

    /// `participants.tsv`, when there is one, should list exactly the participants with data.
    mutating func compareParticipantsTable() {
        let path = root + "/participants.tsv"
        guard let text = tree.text(path) else { return }
        let lines = text.split(whereSeparator: \.isNewline)
        guard let header = lines.first?.split(separator: "\t", omittingEmptySubsequences: false),
            let column = header.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "participant_id" })
        else {
            warnings.append("\(path) has no participant_id column: not compared with the sub-* folders")
            return
        }
        var listed = Set<String>()
        for line in lines.dropFirst() {
            let cells = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard column < cells.count else { continue }
            let id = cells[column].trimmingCharacters(in: .whitespaces)
            if !id.isEmpty { listed.insert(id.hasPrefix("sub-") ? String(id.dropFirst(4)) : id) }
        }
        let withData = Set(participants.keys)
        let notInFolders = listed.subtracting(withData).sorted()
        let notListed = withData.subtracting(listed).sorted()
        if !notInFolders.isEmpty {
            warnings.append("\(path) lists \(Self.names(notInFolders, "sub-")), which have no data folder: not planned")
        }
        if !notListed.isEmpty {
            warnings.append("\(path) does not list \(Self.names(notListed, "sub-")), which have data: planned")
        }
    }

    /// `sub-01, sub-02, ... (N in all)`: a list short enough for one line.
    static func names(_ labels: [String], _ prefix: String, limit: Int = 10) -> String {
        let shown = labels.prefix(limit).map { prefix + $0 }.joined(separator: ", ")
        return labels.count > limit ? "\(shown), ... (\(labels.count) in all)" : shown
    }
}
