import MarginStore

/// What a correction cost: the annotations a changed body left without their passage. Shared by
/// every command that changes bodies (`import`, and later `feed`), so each says it the same way.
enum OrphanReport {
    /// Says on stderr, per article, how many of its annotations are orphans now and where to
    /// look. Call it after a write with the ids of the articles whose bodies it changed.
    /// - Returns: how many orphans those articles hold.
    @discardableResult
    static func afterCorrection(_ store: Store, articleIDs: [String]) throws -> Int {
        guard !articleIDs.isEmpty else { return 0 }
        let counts = try store.annotationCounts(articleIDs: articleIDs)
        var total = 0
        for id in articleIDs {
            guard let n = counts[id], n.orphans > 0 else { continue }
            total += n.orphans
            let title = (try? store.article(id).title).map { " \"" + TerminalText.escaped($0) + "\"" } ?? ""
            Output.error(TerminalText.cut(
                "margin: \(Output.short(id))\(title): \(n.orphans) of \(count(n.annotations, "annotation")) "
                    + "lost \(n.orphans == 1 ? "its" : "their") passage in this correction "
                    + "(kept as orphans; see `margin orphans`)", to: Terminal.stderrIsTerminal ? Terminal.stderrWidth : nil))
        }
        return total
    }
}
