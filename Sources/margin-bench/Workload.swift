import Foundation
import MarginStore


struct BenchArticle {
    var url: String
    var title: String
    var source: String
    var publishedAt: String
    var body: String
    var id: String
    var length: Int
}

struct BenchAnnotation {
    var article: Int
    var start: Int
    var end: Int
    var note: String
    var tags: [String]
}

struct BenchEdit {
    var annotation: Int
    /// A new note, or nil for a tag added.
    var note: String?
    var tag: String
}

struct Workload {
    var articles: [BenchArticle] = []
    var annotations: [BenchAnnotation] = []
    var edits: [BenchEdit] = []
    var corpusUsed = false

    static let tags = [
        "politics", "economy", "climate", "health", "sport", "science", "europe", "asia", "africa", "americas",
        "elections", "energy", "courts", "disaster", "technology", "follow-up", "quote", "fact-check", "to-read",
        "important",
    ]
    static let notes = [
        "Check these figures against last year's report.",
        "The ministry's own statement says otherwise; find the source.",
        "Good quote for the weekly summary.",
        "Compare with the coverage in the regional press.",
        "Who is the unnamed official? Ask the desk.",
        "This contradicts the second paragraph.",
        "Follow up in a month: did the vote happen?",
        "Background for the explainer on energy prices.",
    ]

    /// Articles made by recombining the corpus paragraphs (each article: the headline and opening
    /// paragraph of one story followed by paragraphs of others), or generated text without a corpus.
    init(options: BenchOptions) {
        var random = Random(state: 0x6d61_7267_696e)
        var sources: [ImportedArticle] = []
        if let corpus = options.corpus, let data = FileManager.default.contents(atPath: corpus) {
            sources = (try? ArticleImporter.parse(data, format: .csv, filename: corpus)) ?? []
        }
        corpusUsed = !sources.isEmpty
        if !corpusUsed {
            note("no corpus (\(options.corpus ?? "none given")): using generated text instead of wikinews articles")
            let words = "the minister said on tuesday that budget talks with regional leaders would continue after a storm closed roads across the north while prices of energy rose again and courts weighed an appeal".split(separator: " ")
            for n in 0..<20 {
                var paragraphs: [String] = []
                for _ in 0..<6 {
                    paragraphs.append((0..<60).map { _ in String(words[random.below(words.count)]) }.joined(separator: " ") + ".")
                }
                sources.append(ImportedArticle(
                    url: nil, title: "Generated story \(n)", publishedAt: "2019-01-01", body: paragraphs.joined(separator: "\n\n")))
            }
        }
        let paragraphs = sources.map { article in
            article.body.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { !$0.isEmpty }
        }
        for n in 0..<options.articles {
            let lead = random.below(sources.count)
            var body = Array(paragraphs[lead].prefix(2))
            for _ in 0..<(2 + random.below(4)) {
                let other = paragraphs[random.below(sources.count)]
                if !other.isEmpty { body.append(other[random.below(other.count)]) }
            }
            let text = body.joined(separator: "\n\n")
            let url = "https://news.bench.margin.invalid/story/\(n)"
            articles.append(BenchArticle(
                url: url, title: "\(sources[lead].title) (\(n))", source: "Wikinews",
                publishedAt: sources[lead].publishedAt ?? "2019-01-01", body: text,
                id: ArticleIdentity.id(url: ArticleIdentity.canonicalURL(url), title: "", body: ""),
                length: TextAnchor.length(text)))
        }
        for n in 0..<options.annotations {
            let article = (n * 7919) % articles.count
            let length = articles[article].length
            let span = min(length, 12 + random.below(60))
            let start = random.below(length - span + 1)
            let tags = (0..<(1 + random.below(3))).map { _ in Self.tags[random.below(Self.tags.count)] }
            annotations.append(BenchAnnotation(
                article: article, start: start, end: start + span,
                note: "\(Self.notes[random.below(Self.notes.count)]) (\(n))", tags: Array(Set(tags)).sorted()))
        }
        for n in 0..<(annotations.isEmpty ? 0 : options.edits) {
            let annotation = random.below(annotations.count)
            if n % 10 < 7 {
                edits.append(BenchEdit(annotation: annotation, note: "Edited: \(Self.notes[random.below(Self.notes.count)]) (\(n))", tag: ""))
            } else {
                edits.append(BenchEdit(annotation: annotation, note: nil, tag: "edit-\(n % 13)"))
            }
        }
    }
}

