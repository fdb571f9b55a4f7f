import MarginStore

/// Short ids for one listing, as `git log --abbrev` shows them: every id the same length (the
/// longest any of them needs to be unique, at least 8 hex digits), with no dashes to type.
struct ShortIDs {
    /// Hex digits every id of the listing shows.
    let length: Int

    /// - Parameter ids: the ids the listing shows.
    init(_ store: Store, _ ids: [String]) throws {
        let lengths = try store.uniquePrefixLengths(ids)
        length = lengths.values.max() ?? 8
    }

    /// The short form of `id`.
    func callAsFunction(_ id: String) -> String { Store.shortID(id, length: length) }
}
