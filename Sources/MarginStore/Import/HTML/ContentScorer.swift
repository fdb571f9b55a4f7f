import Foundation

/// Finds the article text of a page the way Mozilla's Readability does, on a `DOMNode` tree: page chrome
/// and unlikely blocks set aside, every paragraph scored (length, commas) into its ancestors, the best
/// block taken with the siblings that score near it, then cleaned of link lists, widgets and
/// ads. Differences from Readability, for news pages: story text split over sibling containers at two
/// levels is merged, and paragraphs between the headline and the chosen block (a lead set apart from the
/// body, as The New York Times does) are kept.
struct ContentScorer {
    /// How strict one pass is; a pass that finds too little text is retried with fewer exclusions.
    struct Pass {
        var dropUnlikely = true
        var weighClasses = true
        var dropChrome = true
    }

    /// A run of inline text: one paragraph as it will appear in the body.
    struct Paragraph {
        var text: String
        /// The innermost block element the text sits in.
        var owner: DOMNode
        var length: Int
        var linkLength: Int
        var order: Int

        var linkDensity: Double { length == 0 ? 0 : Double(linkLength) / Double(length) }
    }

    struct Result {
        var nodes: [DOMNode]
        var paragraphs: [String]
        var captions: [String]
        var linkDensity: Double
        var linkedHeadings: Int
        var insideArticleElement: Bool
    }

    let body: DOMNode
    let headline: DOMNode?
    let title: String
    let byline: String?
    /// Preorder position of every element, for document-order comparisons.
    private var order: [ObjectIdentifier: Int] = [:]

    init(body: DOMNode, headline: DOMNode?, title: String, byline: String?) {
        self.body = body
        self.headline = headline
        self.title = title
        self.byline = byline
        var index = 0
        var stack: [DOMNode] = [body]
        while let node = stack.popLast() {
            guard node.isElement else { continue }
            order[ObjectIdentifier(node)] = index
            index += 1
            stack.append(contentsOf: node.children.reversed())
        }
    }

    // MARK: - The passes

    /// The article text: the first pass that finds enough of it, else the pass that found most.
    func extract() -> Result {
        let passes = [
            Pass(),
            Pass(dropUnlikely: false),
            Pass(dropUnlikely: false, weighClasses: false),
            Pass(dropUnlikely: false, weighClasses: false, dropChrome: false),
        ]
        // A looser pass wins only when it finds clearly more: on a short page the chrome a strict pass
        // left out is most of what a loose one adds.
        func length(_ result: Result) -> Int { result.paragraphs.reduce(0) { $0 + $1.count } }
        var best = run(passes[0])
        if length(best) >= 500 { return best }
        for pass in passes.dropFirst() {
            let result = run(pass)
            if length(result) > length(best) * 2 + 100 { best = result }
            if length(best) >= 500 { break }
        }
        return best
    }

    private func run(_ pass: Pass) -> Result {
        let excluded = exclusions(pass)
        let paragraphs = collect(body, skipping: excluded, skipFigures: true)
        var scores: [ObjectIdentifier: Double] = [:]
        // What the paragraphs alone gave a block, without its tag or class: the climb to a parent and the
        // siblings kept are decided on text, not on class names ("ArticleBody-subtitle").
        var content: [ObjectIdentifier: Double] = [:]
        var candidates: [DOMNode] = []

        func initialize(_ node: DOMNode) {
            guard scores[ObjectIdentifier(node)] == nil else { return }
            var score: Double
            switch node.name {
            case "div", "article", "main": score = 5
            case "pre", "td", "blockquote": score = 3
            case "address", "ol", "ul", "dl", "dd", "dt", "li", "form": score = -3
            case "h1", "h2", "h3", "h4", "h5", "h6", "th": score = -5
            default: score = 0
            }
            if pass.weighClasses { score += Double(Self.classWeight(node)) }
            scores[ObjectIdentifier(node)] = score
            candidates.append(node)
        }

        for paragraph in paragraphs where paragraph.length >= 25 && isScorable(paragraph.owner) {
            guard paragraph.linkDensity < 0.5 else { continue }
            let commas = paragraph.text.unicodeScalars.filter { $0 == "," || $0 == "，" || $0 == "、" || $0 == "،" }.count
            let score = 1 + Double(commas) + min(Double(paragraph.length - paragraph.linkLength) / 100, 3)
            // A paragraph element gives its score to its container; text loose in a container scores it.
            var target: DOMNode? = hasBlockChildren(paragraph.owner, excluded) ? paragraph.owner : paragraph.owner.parent
            var level = 0
            while let node = target, level < 5, node !== body.parent {
                initialize(node)
                let divider: Double = level == 0 ? 1 : level == 1 ? 2 : Double(level * 3)
                scores[ObjectIdentifier(node)]! += score / divider
                content[ObjectIdentifier(node), default: 0] += score / divider
                if node === body { break }
                target = node.parent
                level += 1
            }
        }

        var stats = Stats(excluded: excluded)
        for candidate in candidates {
            let id = ObjectIdentifier(candidate)
            let density = stats.linkDensity(candidate)
            scores[id]! *= 1 - density
            content[id, default: 0] *= 1 - density
        }
        func score(_ node: DOMNode) -> Double? { scores[ObjectIdentifier(node)] }
        func textScore(_ node: DOMNode) -> Double? { content[ObjectIdentifier(node)] }

        let ranked = candidates.filter { $0 !== body }.sorted { score($0)! > score($1)! }
        // Nothing long enough to score (a short page): its <article>, else its <main>, else the body.
        var top = ranked.first
            ?? body.descendants(where: { $0.name == "article" && !excluded.contains(ObjectIdentifier($0)) }).first
            ?? body.descendants(where: { ($0.name == "main" || $0.attribute("role") == "main")
                && !excluded.contains(ObjectIdentifier($0)) }).first
            ?? body
        let topScore = score(top) ?? 0

        // A broad block that won on its class ("main-content") while one child holds nearly all its text:
        // the article is that child.
        var paragraphChars: [ObjectIdentifier: Int] = [:]
        var paragraphCount: [ObjectIdentifier: Int] = [:]
        for paragraph in paragraphs where paragraph.length >= 25 && paragraph.linkDensity < 0.5 {
            var node: DOMNode? = paragraph.owner
            while let current = node {
                paragraphChars[ObjectIdentifier(current), default: 0] += paragraph.length
                paragraphCount[ObjectIdentifier(current), default: 0] += 1
                if current === body { break }
                node = current.parent
            }
        }
        while true {
            let total = paragraphChars[ObjectIdentifier(top)] ?? 0
            guard total > 0,
                let child = top.children.filter({ $0.isElement && !excluded.contains(ObjectIdentifier($0)) })
                    .max(by: { (paragraphChars[ObjectIdentifier($0)] ?? 0) < (paragraphChars[ObjectIdentifier($1)] ?? 0) }),
                Double(paragraphChars[ObjectIdentifier(child)] ?? 0) >= Double(total) * 0.85,
                (paragraphCount[ObjectIdentifier(child)] ?? 0) >= 2
            else { break }
            top = child
        }

        // Several blocks scoring near the best one, under one ancestor: the article is that ancestor.
        if top !== body {
            let alternatives = ranked.dropFirst().prefix(4).filter { score($0)! >= topScore * 0.75 }
            if alternatives.count >= 3 {
                var parent = top.parent
                while let node = parent, node !== body {
                    if alternatives.filter({ $0.isInside(node) }).count >= 3 {
                        top = node
                        break
                    }
                    parent = node.parent
                }
            }
            // Readability's climb: a parent that scores more than the block holds more of the article.
            var lastScore = textScore(top) ?? 0
            let threshold = lastScore / 3
            var parent = top.parent
            while let node = parent, node !== body {
                guard let parentScore = textScore(node) else {
                    parent = node.parent
                    continue
                }
                if parentScore < threshold { break }
                if parentScore > lastScore {
                    top = node
                    break
                }
                lastScore = parentScore
                parent = node.parent
            }
            while let parent = top.parent, parent !== body, parent.children.filter(\.isElement).count == 1 {
                top = parent
            }
        }

        // Siblings of the block that score near it (story text split over several containers).
        var nodes: [DOMNode] = [top]
        let finalTopScore = textScore(top) ?? 0
        if top !== body, let parent = top.parent {
            nodes = siblings(of: top, in: parent, topScore: finalTopScore, excluded: excluded, score: textScore,
                             stats: &stats, strict: false)
            if parent !== body, let grandparent = parent.parent {
                let around = siblings(of: parent, in: grandparent, topScore: finalTopScore, excluded: excluded,
                                      score: textScore, stats: &stats, strict: true)
                let before = around.prefix { $0 !== parent }
                let after = around.drop { $0 !== parent }.dropFirst()
                nodes = Array(before) + nodes + Array(after)
            }
        }

        if Self.debug {
            func describe(_ node: DOMNode) -> String {
                "<\(node.name) class=\"\(node.attribute("class") ?? "")\" id=\"\(node.attribute("id") ?? "")\">"
            }
            var log = "pass \(pass): \(paragraphs.count) paragraphs, top candidates:\n"
            for node in ranked.prefix(6) { log += "  \(Int(score(node) ?? 0)) \(describe(node))\n" }
            log += "  chosen: " + nodes.map(describe).joined(separator: " + ") + "\n"
            FileHandle.standardError.write(Data(log.utf8))
        }

        // A lead set apart before the chosen block: good paragraphs between the headline and it.
        let lead = leadParagraphs(before: nodes[0], in: paragraphs, excluded: excluded)

        // Clean and render.
        var skip = excluded
        for node in nodes { markConditionalRemovals(in: node, excluded: &skip, score: score, stats: &stats, pass: pass) }
        if let headline { skip.insert(ObjectIdentifier(headline)) }
        var rendered: [Paragraph] = []
        var captions: [String] = []
        for paragraph in lead { rendered.append(paragraph) }
        for node in nodes { rendered += collect(node, skipping: skip, skipFigures: true) }
        captions = figureCaptions(around: nodes)
        // Lines that are all link ("Read more: …", "CLICK HERE TO GET THE APP") are not story text.
        var texts = rendered.filter { $0.linkDensity < 0.6 }.map(\.text).filter { !isBoilerplate($0) }
        if let first = texts.first, TextTools.looseKey(first) == TextTools.looseKey(title) { texts.removeFirst() }

        let text = rendered.reduce(0) { $0 + $1.length }
        let links = rendered.reduce(0) { $0 + $1.linkLength }
        let linkedHeadings = nodes.reduce(0) { total, node in
            total + node.descendants(where: { ["h2", "h3", "h4"].contains($0.name) }).filter { heading in
                heading.first("a") != nil || heading.closest({ $0.name == "a" }) != nil
            }.count
        }
        return Result(
            nodes: nodes, paragraphs: texts, captions: captions,
            linkDensity: text == 0 ? 0 : Double(links) / Double(text),
            linkedHeadings: linkedHeadings,
            insideArticleElement: nodes[0].closest({ $0.name == "article" }) != nil
                || nodes[0].first("article") != nil)
    }

    private func siblings(
        of top: DOMNode, in parent: DOMNode, topScore: Double, excluded: Set<ObjectIdentifier>,
        score: (DOMNode) -> Double?, stats: inout Stats, strict: Bool
    ) -> [DOMNode] {
        let threshold = max(5, topScore * (strict ? 0.3 : 0.2))
        var out: [DOMNode] = []
        let topClass = top.attribute("class") ?? ""
        for sibling in parent.children where sibling.isElement && !excluded.contains(ObjectIdentifier(sibling)) {
            if sibling === top {
                out.append(sibling)
                continue
            }
            if Self.classWeight(sibling) < 0 {
                // A block hinted as not the article joins only for a real paragraph, and never at the outer level.
                if !strict, holdsStoryText(sibling, excluded: excluded, stats: &stats) { out.append(sibling) }
                continue
            }
            var bonus = 0.0
            if !topClass.isEmpty, sibling.attribute("class") == topClass { bonus = topScore * 0.2 }
            let density = stats.linkDensity(sibling)
            if let siblingScore = score(sibling), siblingScore + bonus >= threshold,
                !strict || density < 0.25
            {
                out.append(sibling)
            } else if sibling.name == "p" || (!hasBlockChildren(sibling, excluded) && sibling.name == "div") {
                let text = sibling.normalizedText
                let length = text.count
                if length > 80, density < 0.25, sibling.name == "p" || Self.endsSentence(text) {
                    out.append(sibling)
                } else if sibling.name == "p", length > 0, length <= 80, density == 0, Self.endsSentence(text) {
                    out.append(sibling)
                }
            }
        }
        return out
    }

    /// Paragraphs between the headline (or the top of the article's container) and `first`, that read as
    /// story text: long enough, sentences, few links, not in a block hinted as chrome.
    private func leadParagraphs(before first: DOMNode, in paragraphs: [Paragraph], excluded: Set<ObjectIdentifier>)
        -> [Paragraph]
    {
        guard let firstOrder = order[ObjectIdentifier(first)] else { return [] }
        let headlineOrder = headline.flatMap { order[ObjectIdentifier($0)] }
        // Without a headline to start from, nothing before the block is known to be the article's.
        guard headline != nil else { return [] }
        let scope: DOMNode? = nil
        var out: [Paragraph] = []
        for paragraph in paragraphs {
            guard paragraph.order < firstOrder else { break }
            if let headlineOrder, paragraph.order <= headlineOrder { continue }
            if let scope, !paragraph.owner.isInside(scope) { continue }
            if paragraph.owner.isInside(first) { continue }
            guard paragraph.length >= 80, paragraph.linkDensity < 0.2, Self.endsSentence(paragraph.text) else {
                continue
            }
            guard !isSetApart(paragraph.owner) else { continue }
            out.append(paragraph)
        }
        // Keep only the run of paragraphs right before the block: a stray one far above is not a lead.
        return Array(out.suffix(3))
    }

    /// Summaries, standfirsts, captions, bylines, chrome: not a lead even when they read like one.
    private func isSetApart(_ node: DOMNode) -> Bool {
        var current: DOMNode? = node
        var steps = 0
        while let element = current, element !== body, steps < 8 {
            if ["header", "figure", "figcaption", "aside", "nav", "footer", "blockquote", "li"].contains(element.name) {
                return true
            }
            let hints = element.classAndID
            if !hints.isEmpty,
                Self.setApartHints.contains(where: hints.contains) || Self.classWeight(element) < 0
            {
                return true
            }
            if PageMetadata.isBylineNode(element) { return true }
            current = element.parent
            steps += 1
        }
        return false
    }

    static let setApartHints = [
        "summary", "standfirst", "dek", "subtitle", "subhead", "strapline", "description", "teaser", "kicker",
        "caption", "credit", "byline", "meta", "excerpt", "intro-text", "sapo", "bajada", "chapeau", "lede-text",
    ]

    // MARK: - Exclusions

    /// Elements set aside for a pass: never content (scripts, forms' controls, hidden), page chrome
    /// (nav, aside, footer, header, ARIA landmarks), and blocks whose class or id says they are not the
    /// article (comments, related links, share bars, promos, cookie banners).
    private func exclusions(_ pass: Pass) -> Set<ObjectIdentifier> {
        var excluded = Set<ObjectIdentifier>()
        let bodyLength = max(1, Stats.plainLength(body))
        var stack: [DOMNode] = body.children.reversed()
        while let node = stack.popLast() {
            guard node.isElement else { continue }
            if shouldExclude(node, pass, bodyLength: bodyLength) {
                excluded.insert(ObjectIdentifier(node))
                continue
            }
            stack.append(contentsOf: node.children.reversed())
        }
        return excluded
    }

    private func shouldExclude(_ node: DOMNode, _ pass: Pass, bodyLength: Int) -> Bool {
        if Self.neverContent.contains(node.name) { return true }
        if node.attribute("hidden") != nil || node.attribute("aria-hidden")?.lowercased() == "true" { return true }
        if let style = node.attribute("style")?.lowercased().replacingOccurrences(of: " ", with: ""),
            style.contains("display:none") || style.contains("visibility:hidden")
        {
            return true
        }
        // Never set aside the block that holds most of the page's text: it is the article, whatever its class.
        let length = Stats.plainLength(node)
        let holdsArticle = length >= 200 && length * 10 >= bodyLength * 6 || node.attribute("itemprop") == "articleBody"
        if pass.dropChrome, !holdsArticle {
            if Self.chromeTags.contains(node.name) { return true }
            if let role = node.attribute("role")?.lowercased(), Self.chromeRoles.contains(role) { return true }
        }
        let hints = node.classAndID
        guard !hints.isEmpty, !holdsArticle else { return false }
        if Self.strongNegative.contains(where: hints.contains) || Self.isAdvert(node) { return true }
        if pass.dropUnlikely, Self.unlikely.contains(where: hints.contains),
            !Self.maybe.contains(where: hints.contains), !["body", "a", "table", "tbody", "tr", "td"].contains(node.name)
        {
            return true
        }
        return false
    }

    static let neverContent: Set<String> = [
        "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas", "video",
        "audio", "map", "button", "input", "select", "textarea", "option", "label", "head", "title", "meta",
        "link", "dialog", "source", "track", "picture", "img", "amp-img", "amp-ad", "amp-analytics",
        "amp-social-share", "amp-iframe", "amp-video",
    ]
    static let chromeTags: Set<String> = ["nav", "aside", "footer", "header", "menu"]
    static let chromeRoles: Set<String> = [
        "navigation", "menu", "menubar", "complementary", "contentinfo", "banner", "dialog", "alertdialog", "search",
        "alert", "tablist", "toolbar",
    ]
    /// Hints that are never the article, whatever else the class says.
    static let strongNegative = [
        "comment", "disqus", "cookie", "consent", "gdpr", "newsletter", "related", "recirc", "outbrain", "taboola",
        "share", "sharing", "social", "promo", "sponsor", "most-popular", "mostpopular", "most-read", "mostread",
        "trending", "subscribe", "signup", "sign-up", "breadcrumb", "skip-link", "sr-only", "visually-hidden",
        "screen-reader", "twitter-tweet", "instagram-media", "tiktok-embed", "advert", "ad-slot", "adslot",
        "ad-container", "ad-wrapper", "ad-unit", "adunit", "dfp-", "gpt-ad", "read-more", "readmore", "more-stories",
        "paywall-prompt", "inline-newsletter", "author-bio", "authorbio", "about-author", "article-tags",
        "tag-list", "taglist", "print-only", "modal", "popup", "overlay", "toolbar", "commerce", "affiliate",
        "comentario", "kommentar", "reactions", "app-promo", "download-app", "paid-content", "partner-content",
    ]

    /// `ad` or `ads` as a word of a compound class or id (`ad-slot`, `ads_box`, `gpt-ad`), or the whole class:
    /// minified class lists (`ab ad ae`) are not adverts.
    static func isAdvert(_ node: DOMNode) -> Bool {
        for value in [node.attribute("class"), node.attribute("id")] {
            guard let value = value?.lowercased(), !value.isEmpty else { continue }
            for word in value.split(separator: " ") {
                if word == "ad" || word == "ads" {
                    if value.split(separator: " ").count == 1 { return true }
                    continue
                }
                let parts = word.split(whereSeparator: { $0 == "-" || $0 == "_" })
                if parts.count > 1, parts.contains(where: { $0 == "ad" || $0 == "ads" || $0 == "advert" || $0 == "adv" }) {
                    return true
                }
            }
        }
        return false
    }
    static let unlikely = [
        "-ad-", "ai2html", "banner", "combx", "community", "cover-wrap", "extra", "footer", "header", "legends",
        "menu", "remark", "replies", "rss", "shoutbox", "sidebar", "skyscraper", "supplemental", "ad-break",
        "agegate", "pagination", "pager", "yom-remote", "masthead", "widget", "tools", "nav",
    ]
    static let maybe = ["and", "article", "body", "column", "content", "main", "shadow", "story", "entry", "post-"]

    static let positiveHints = [
        "article", "body", "content", "entry", "hentry", "h-entry", "main", "page", "pagination", "post", "text",
        "blog", "story", "prose",
    ]
    static let negativeHints = [
        "-ad-", "hidden", "banner", "combx", "comment", "com-", "contact", "foot", "footer", "footnote", "gdpr",
        "masthead", "media", "meta", "outbrain", "promo", "related", "scroll", "share", "shoutbox", "sidebar",
        "skyscraper", "sponsor", "shopping", "tags", "tool", "widget", "newsletter", "cookie", "recirc", "bottom",
    ]

    /// Readability's class weight: +25 for a positive class, −25 for a negative one, the same for the id.
    static func classWeight(_ node: DOMNode) -> Int {
        var weight = 0
        for value in [node.attribute("class"), node.attribute("id")] {
            guard let value = value?.lowercased(), !value.isEmpty else { continue }
            if negativeHints.contains(where: value.contains) { weight -= 25 }
            if positiveHints.contains(where: value.contains) { weight += 25 }
        }
        if node.attribute("itemprop") == "articleBody" { weight += 25 }
        return weight
    }

    // MARK: - Cleaning

    /// Readability's conditional cleaning: lists of links, widgets, image galleries and blocks with
    /// more links than text go; the chosen block itself stays.
    private func markConditionalRemovals(
        in root: DOMNode, excluded: inout Set<ObjectIdentifier>, score: (DOMNode) -> Double?, stats: inout Stats,
        pass: Pass
    ) {
        for node in root.descendants(where: { ["div", "section", "ul", "ol", "table", "form", "fieldset", "aside", "dl"]
            .contains($0.name) })
        {
            if excluded.contains(ObjectIdentifier(node)) { continue }
            if node.closest({ excluded.contains(ObjectIdentifier($0)) }) != nil { continue }
            let weight = pass.weighClasses ? Self.classWeight(node) : 0
            let nodeScore = score(node) ?? 0
            if weight + Int(nodeScore) < 0 {
                if !holdsStoryText(node, excluded: excluded, stats: &stats) { excluded.insert(ObjectIdentifier(node)) }
                continue
            }
            let text = Stats.text(node, excluded: excluded)
            let commas = text.unicodeScalars.filter { $0 == "," }.count
            guard commas < 10 else { continue }
            let isList = node.name == "ul" || node.name == "ol"
            let paragraphs = node.descendants(where: { $0.name == "p" }).count
            let images = node.descendants(where: { $0.name == "img" }).count
            let items = node.descendants(where: { $0.name == "li" }).count - 100
            let inputs = node.descendants(where: { $0.name == "input" && ["email", "text", "search", nil]
                .contains($0.attribute("type")?.lowercased()) }).count
            let embeds = node.descendants(where: { ["embed", "object", "iframe"].contains($0.name) }).count
            let density = stats.linkDensity(node)
            let length = text.count
            let inFigure = node.closest({ $0.name == "figure" }) != nil
            var remove = false
            if images > 1, Double(paragraphs) / Double(images) < 0.5, !inFigure { remove = true }
            if !isList, items > paragraphs { remove = true }
            // A sign-up form with no text of its own (a prompt with text is a call to action, below).
            if inputs > 0 {
                let forms = Set(node.descendants(where: { $0.name == "form" }).map(ObjectIdentifier.init))
                if Stats.text(node, excluded: excluded.union(forms)).isEmpty { remove = true }
            }
            if !isList, length < 25, images == 0 || images > 2, density > 0 { remove = true }
            if !isList, weight < 25, density > 0.2 { remove = true }
            if isList, density > 0.5 { remove = true }
            if weight >= 25, density > 0.5 { remove = true }
            if (embeds == 1 && length < 75) || embeds > 1 { remove = true }
            if Self.isCallToAction(text), length < 600, node.first("a") != nil || node.first("form") != nil {
                remove = true
            } else if remove, holdsStoryText(node, excluded: excluded, stats: &stats) {
                // A wrapper with a hint that reads badly ("leafmedia") around a real paragraph: keep it.
                remove = false
            }
            if remove { excluded.insert(ObjectIdentifier(node)) }
        }
        // Standfirsts, decks and summaries above the story are not its text (nor are they its lead).
        for node in root.descendants(where: { node in
            let hints = node.classAndID
            return !hints.isEmpty && ["standfirst", "dek", "strapline", "kicker", "sapo", "bajada", "chapeau", "summary"]
                .contains(where: hints.contains)
        }) where node !== root && node.normalizedText.count < 400 {
            excluded.insert(ObjectIdentifier(node))
        }
        // Bylines, datelines and timestamps standing alone inside the article are not its text.
        for node in root.descendants(where: { PageMetadata.isBylineNode($0) || Self.isTimestamp($0) }) {
            if node === root { continue }
            let text = node.normalizedText
            guard text.count < 300 else { continue }
            let block = node.closest({ ContentScorer.blockTags.contains($0.name) }) ?? node
            if block === node || block.normalizedText.count <= text.count + 8 {
                excluded.insert(ObjectIdentifier(block === root ? node : block))
            }
        }
    }

    /// A paragraph of story text directly in the block: long, a sentence, few links.
    private func holdsStoryText(_ node: DOMNode, excluded: Set<ObjectIdentifier>, stats: inout Stats) -> Bool {
        guard stats.linkDensity(node) < 0.2 else { return false }
        return collect(node, skipping: excluded, skipFigures: true).contains {
            $0.length >= 100 && $0.linkDensity < 0.2 && Self.endsSentence($0.text)
        }
    }

    /// Two or more of the phrases of subscription and sign-up prompts.
    static func isCallToAction(_ text: String) -> Bool {
        let lower = text.lowercased()
        let phrases = [
            "subscribe", "subscriber", "subscription", "sign in", "log in", "sign up", "free trial", "start trial",
            "newsletter", "register", "already a member", "unlock", "suscríbete", "suscriptor", "abonnez", "abonné",
            "abonnieren", "anmelden", "inscríbete", "create an account", "create account",
        ]
        return phrases.filter(lower.contains).count >= 2
    }

    static func isTimestamp(_ node: DOMNode) -> Bool {
        if node.name == "time" { return true }
        let hints = node.classAndID
        guard !hints.isEmpty else { return false }
        return ["timestamp", "publish-date", "published-date", "pubdate", "article-date", "updated-date",
                "date-time", "datetime", "post-date", "entry-date", "posted-on"].contains(where: hints.contains)
    }

    /// Figure captions of the article: in the chosen blocks and in the article element around them (a
    /// lead photo sits above the text), not in related-content teasers or page chrome.
    private func figureCaptions(around nodes: [DOMNode]) -> [String] {
        var scope = nodes[0].closest({ $0.name == "main" }) ?? nodes[0].closest({ $0.name == "article" })
            ?? nodes[0].parent ?? nodes[0]
        if scope === body { scope = nodes[0] }
        var out: [String] = []
        for caption in scope.descendants(where: Self.isCaption) {
            // The innermost caption element only, once.
            if caption.descendants(where: Self.isCaption).isEmpty == false { continue }
            if caption.closest({ ["nav", "aside", "footer"].contains($0.name) || Self.strongNegative.contains(where: $0.classAndID.contains) }) != nil {
                continue
            }
            if caption.closest({ Self.neverContent.contains($0.name) && $0.name != "img" }) != nil { continue }
            let text = caption.normalizedText
            if !text.isEmpty, text.count <= 600, !out.contains(text) { out.append(text) }
        }
        return out
    }

    /// `<figcaption>`, or an element named a caption (`itemprop=caption`, a class with "caption") in a figure
    /// or image block.
    static func isCaption(_ node: DOMNode) -> Bool {
        if node.name == "figcaption" { return true }
        if node.attribute("itemprop") == "caption" { return true }
        let hints = node.classAndID
        guard hints.contains("caption"), !["body", "article", "main", "section"].contains(node.name) else { return false }
        return node.normalizedText.count <= 600
    }

    /// Lines that pages put between paragraphs and that are never story text.
    private func isBoilerplate(_ text: String) -> Bool {
        guard text.count <= 60 else { return false }
        let key = TextTools.looseKey(text)
        if key.isEmpty { return true }
        if Self.boilerplate.contains(key) { return true }
        if let byline, key == TextTools.looseKey(byline) || key == "by" + TextTools.looseKey(byline) { return true }
        return false
    }

    static let boilerplate: Set<String> = [
        "advertisement", "advertisment", "ad", "anzeige", "publicidad", "publicité", "publicite", "pubblicità",
        "sponsored", "supportedby", "storycontinuesbelowadvertisement", "continuereadingthemainstory",
        "continuereading", "readmore", "readmorebelow", "share", "sharethisarticle", "sharethis", "sharethisstory",
        "sharethispage", "copylink", "linkcopied", "listen", "listentothisarticle", "print", "email", "comments",
        "skiptocontent", "skipadvertisement", "scrolltocontinue", "related", "relatedarticles", "relatedstories",
        "trending", "mostread", "signup", "subscribe", "loading", "close", "menu", "follow", "followus",
        "tweet", "facebook", "twitter", "whatsapp", "linkedin", "reddit", "pinterest", "telegram", "広告", "광고",
        "реклама", "إعلان", "werbung", "annonce",
    ]

    // MARK: - Paragraphs

    static let blockTags: Set<String> = [
        "address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog", "dir", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hgroup", "hr", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "thead", "tfoot", "tr", "td", "th", "ul", "caption", "legend", "html", "amp-story", "listing", "xmp",
    ]

    private func isScorable(_ owner: DOMNode) -> Bool {
        !["li", "dt", "dd", "th", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "caption", "summary", "legend"]
            .contains(owner.name)
    }

    private func hasBlockChildren(_ node: DOMNode, _ excluded: Set<ObjectIdentifier>) -> Bool {
        node.children.contains { $0.isElement && Self.blockTags.contains($0.name) && !excluded.contains(ObjectIdentifier($0)) }
    }

    /// The paragraphs below `root` in document order, as they read: block elements end paragraphs, a
    /// `<br>` ends a line and two end a paragraph, whitespace collapses except in `<pre>`.
    func collect(_ root: DOMNode, skipping excluded: Set<ObjectIdentifier>, skipFigures: Bool) -> [Paragraph] {
        var out: [Paragraph] = []
        var line = String.UnicodeScalarView()
        var lines: [String] = []
        var length = 0
        var linkLength = 0
        var owners: [DOMNode] = [root]
        var linkDepth = 0
        var preDepth = 0
        var lastWasBreak = false
        var pendingSpace = false

        func endLine() {
            if !line.isEmpty { lines.append(String(line)) }
            line.removeAll(keepingCapacity: true)
            pendingSpace = false
        }
        func flush() {
            endLine()
            if !lines.isEmpty {
                let owner = owners.last!
                out.append(Paragraph(text: lines.joined(separator: "\n"), owner: owner, length: length,
                                     linkLength: linkLength, order: order[ObjectIdentifier(owner)] ?? 0))
            }
            lines.removeAll()
            length = 0
            linkLength = 0
            lastWasBreak = false
        }
        func appendText(_ text: String) {
            for scalar in text.unicodeScalars {
                if preDepth > 0 {
                    if scalar == "\n" {
                        endLine()
                    } else {
                        line.append(scalar)
                        length += 1
                        if linkDepth > 0 { linkLength += 1 }
                    }
                    continue
                }
                if TextTools.isWhitespace(scalar) {
                    pendingSpace = !line.isEmpty
                    continue
                }
                if pendingSpace {
                    line.append(" ")
                    length += 1
                    if linkDepth > 0 { linkLength += 1 }
                }
                pendingSpace = false
                lastWasBreak = false
                line.append(scalar)
                length += 1
                if linkDepth > 0 { linkLength += 1 }
            }
        }

        enum Step {
            case enter(DOMNode)
            case leave(DOMNode)
        }
        var stack: [Step] = root.children.reversed().map { .enter($0) }
        while let step = stack.popLast() {
            switch step {
            case .enter(let node):
                if node.kind == .text {
                    appendText(TextTools.mapC1Controls(node.text))
                    continue
                }
                if excluded.contains(ObjectIdentifier(node)) { continue }
                if skipFigures, node.name == "figure" || Self.isCaption(node) { continue }
                switch node.name {
                case "br":
                    if lastWasBreak {
                        flush()
                    } else {
                        endLine()
                        lastWasBreak = true
                    }
                    continue
                case "hr":
                    flush()
                    continue
                case "td", "th":
                    if !line.isEmpty { pendingSpace = true }
                default:
                    break
                }
                let isBlock = Self.blockTags.contains(node.name) && node.name != "td" && node.name != "th"
                if isBlock {
                    flush()
                    owners.append(node)
                }
                if node.name == "a" { linkDepth += 1 }
                if node.name == "pre" {
                    preDepth += 1
                }
                stack.append(.leave(node))
                stack.append(contentsOf: node.children.reversed().map { .enter($0) })
            case .leave(let node):
                if node.name == "a" { linkDepth -= 1 }
                if node.name == "pre" { preDepth -= 1 }
                if node.name == "td" || node.name == "th" { pendingSpace = true }
                if Self.blockTags.contains(node.name) && node.name != "td" && node.name != "th" {
                    flush()
                    owners.removeLast()
                }
            }
        }
        flush()
        return out
    }

    /// `MARGIN_EXTRACT_DEBUG=1` prints each pass's best blocks and what it chose, on stderr.
    static let debug = ProcessInfo.processInfo.environment["MARGIN_EXTRACT_DEBUG"] != nil

    static func endsSentence(_ text: String) -> Bool {
        guard let last = text.unicodeScalars.last(where: { !TextTools.isWhitespace($0) }) else { return false }
        return ".!?…。！？\"”»’'):;".unicodeScalars.contains(last)
    }
}

/// Text and link lengths of subtrees, with set-aside elements left out; cached per pass.
struct Stats {
    let excluded: Set<ObjectIdentifier>
    private var cache: [ObjectIdentifier: (text: Int, links: Int)] = [:]

    init(excluded: Set<ObjectIdentifier>) {
        self.excluded = excluded
    }

    mutating func linkDensity(_ node: DOMNode) -> Double {
        let (text, links) = lengths(node)
        return text == 0 ? 0 : Double(links) / Double(text)
    }

    mutating func lengths(_ node: DOMNode) -> (text: Int, links: Int) {
        if let cached = cache[ObjectIdentifier(node)] { return cached }
        var text = 0
        var links = 0
        var stack: [(DOMNode, Bool)] = [(node, node.name == "a")]
        while let (current, inLink) = stack.popLast() {
            if current.kind == .text {
                let count = Self.visibleLength(current.text)
                text += count
                if inLink { links += count }
                continue
            }
            if current !== node, excluded.contains(ObjectIdentifier(current)) { continue }
            for child in current.children { stack.append((child, inLink || child.name == "a")) }
        }
        cache[ObjectIdentifier(node)] = (text, links)
        return (text, links)
    }

    /// The subtree's text as it reads (whitespace collapsed), set-aside elements left out.
    static func text(_ node: DOMNode, excluded: Set<ObjectIdentifier>) -> String {
        var out = ""
        var stack: [DOMNode] = [node]
        while let current = stack.popLast() {
            if current.kind == .text {
                out += current.text
                continue
            }
            if current !== node, excluded.contains(ObjectIdentifier(current)) { continue }
            stack.append(contentsOf: current.children.reversed())
        }
        return TextTools.collapseWhitespace(out)
    }

    /// Non-whitespace scalars plus one per whitespace run: the collapsed length, without building it.
    static func visibleLength(_ text: String) -> Int {
        var count = 0
        var inSpace = true
        for scalar in text.unicodeScalars {
            if TextTools.isWhitespace(scalar) {
                if !inSpace { count += 1 }
                inSpace = true
            } else {
                count += 1
                inSpace = false
            }
        }
        return count
    }

    /// The visible length of all text below `node`, scripts and styles left out.
    static func plainLength(_ node: DOMNode) -> Int {
        var count = 0
        var stack: [DOMNode] = [node]
        while let current = stack.popLast() {
            if current.kind == .text {
                count += visibleLength(current.text)
            } else if !["script", "style", "noscript", "template", "svg"].contains(current.name) {
                stack.append(contentsOf: current.children)
            }
        }
        return count
    }
}
