import CLibXML2
import Foundation

/// A node of a parsed HTML page or XML feed, copied out of libxml2's tree so that the importers work on
/// plain Swift values (libxml2's document is freed as soon as the copy is made).
///
/// Element names are lowercased for HTML; for XML they are local names with the namespace URI kept apart.
final class DOMNode {
    enum Kind { case element, text }

    let kind: Kind
    /// The element's name (lowercased in HTML), or "#text".
    let name: String
    /// The element's namespace URI (XML only).
    let namespace: String?
    /// Attributes in document order; names lowercased in HTML.
    var attributes: [(name: String, value: String)]
    var children: [DOMNode] = []
    weak var parent: DOMNode?
    /// A text node's text (entities decoded).
    var text: String

    init(kind: Kind, name: String, namespace: String? = nil, attributes: [(name: String, value: String)] = [],
         text: String = "")
    {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.text = text
    }

    var isElement: Bool { kind == .element }

    func attribute(_ name: String) -> String? {
        for attribute in attributes where attribute.name == name { return attribute.value }
        return nil
    }

    /// The `class` and `id` attributes together, lowercased: what class/id hints are matched against.
    var classAndID: String {
        let value = (attribute("class") ?? "") + " " + (attribute("id") ?? "")
        return value.count > 1 ? value.lowercased() : ""
    }

    var elementChildren: [DOMNode] { children.filter(\.isElement) }

    /// Appends `child`, taking it from its current parent, if any.
    func append(_ child: DOMNode) {
        child.parent = self
        children.append(child)
    }

    /// Takes this node out of the tree.
    func remove() {
        guard let parent else { return }
        if let index = parent.children.firstIndex(where: { $0 === self }) { parent.children.remove(at: index) }
        self.parent = nil
    }

    /// Every descendant element in document order (this node excluded); iterative, so deep trees are safe.
    func descendants(where predicate: (DOMNode) -> Bool = { _ in true }) -> [DOMNode] {
        var out: [DOMNode] = []
        var stack: [DOMNode] = children.reversed()
        while let node = stack.popLast() {
            guard node.isElement else { continue }
            if predicate(node) { out.append(node) }
            stack.append(contentsOf: node.children.reversed())
        }
        return out
    }

    /// The first descendant element named `name`, in document order.
    func first(_ name: String) -> DOMNode? {
        var stack: [DOMNode] = children.reversed()
        while let node = stack.popLast() {
            guard node.isElement else { continue }
            if node.name == name { return node }
            stack.append(contentsOf: node.children.reversed())
        }
        return nil
    }

    /// All text below this node, concatenated as it is (no whitespace handling).
    var rawText: String {
        if kind == .text { return text }
        var out = ""
        var stack: [DOMNode] = children.reversed()
        while let node = stack.popLast() {
            if node.kind == .text {
                out += node.text
            } else {
                stack.append(contentsOf: node.children.reversed())
            }
        }
        return out
    }

    /// The text below this node with whitespace runs collapsed and the ends trimmed.
    var normalizedText: String { TextTools.collapseWhitespace(rawText) }

    /// Whether `other` is this node or one of its ancestors.
    func isInside(_ other: DOMNode) -> Bool {
        var node: DOMNode? = self
        while let current = node {
            if current === other { return true }
            node = current.parent
        }
        return false
    }

    /// The nearest ancestor (or this node) for which `predicate` holds.
    func closest(_ predicate: (DOMNode) -> Bool) -> DOMNode? {
        var node: DOMNode? = self
        while let current = node {
            if current.isElement, predicate(current) { return current }
            node = current.parent
        }
        return nil
    }

    var depth: Int {
        var count = 0
        var node = parent
        while let current = node {
            count += 1
            node = current.parent
        }
        return count
    }
}

/// Parses HTML and XML with libxml2 into `DOMNode` trees.
enum DOMParser {
    /// Trees deeper than this are flattened below it (their text kept): the importers walk trees with
    /// recursion in places, and a hostile page may nest 100,000 elements.
    static let maxDepth = 200

    private static let initialized: Bool = {
        xmlInitParser()
        return true
    }()

    /// Parses an HTML page given as UTF-8 (the caller has already transcoded it).
    /// - Returns: The document node; its children are the page's top elements (usually one `html`).
    static func parseHTML(_ utf8: [UInt8]) -> DOMNode {
        _ = initialized
        margin_xml_silence()
        let options = Int32(
            HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue
                | HTML_PARSE_NONET.rawValue | HTML_PARSE_COMPACT.rawValue | HTML_PARSE_IGNORE_ENC.rawValue
                | HTML_PARSE_NODEFDTD.rawValue)
        let document = DOMNode(kind: .element, name: "#document")
        guard !utf8.isEmpty else { return document }
        let doc: htmlDocPtr? = utf8.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                htmlReadMemory($0, Int32(clamping: buffer.count), nil, "UTF-8", options)
            }
        }
        guard let doc else { return document }
        defer { xmlFreeDoc(doc) }
        copyChildren(of: UnsafeMutableRawPointer(doc).assumingMemoryBound(to: xmlNode.self), into: document, html: true)
        moveBodyContentOutOfHead(document)
        return document
    }

    private static let headElements: Set<String> = [
        "title", "meta", "link", "script", "style", "base", "noscript", "template", "object",
    ]

    /// libxml2's parser knows HTML 4: an HTML5 element before any body element (`<title>T</title><article>…`)
    /// stays in `<head>`. Such elements, and what follows them in the head, belong at the top of the body.
    private static func moveBodyContentOutOfHead(_ document: DOMNode) {
        guard let html = document.children.first(where: { $0.isElement && $0.name == "html" }),
            let head = html.children.first(where: { $0.isElement && $0.name == "head" }),
            let firstStray = head.children.firstIndex(where: { $0.isElement && !headElements.contains($0.name) })
        else { return }
        let stray = Array(head.children[firstStray...]).filter { $0.isElement && !headElements.contains($0.name) || !$0.isElement }
        head.children.removeAll { node in stray.contains { $0 === node } }
        let body: DOMNode
        if let existing = html.children.first(where: { $0.isElement && $0.name == "body" }) {
            body = existing
        } else {
            body = DOMNode(kind: .element, name: "body")
            html.append(body)
        }
        for node in stray { node.parent = body }
        body.children.insert(contentsOf: stray, at: 0)
    }

    /// Parses an XML document (a feed or an OPML file). External entities and the network stay off; a
    /// malformed document is recovered as far as libxml2 can.
    /// - Returns: The document node, or `nil` when nothing could be read as XML.
    static func parseXML(_ data: Data) -> DOMNode? {
        _ = initialized
        margin_xml_silence()
        let options = Int32(
            XML_PARSE_RECOVER.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue
                | XML_PARSE_NONET.rawValue | XML_PARSE_NOCDATA.rawValue | XML_PARSE_COMPACT.rawValue)
        guard !data.isEmpty else { return nil }
        let doc: xmlDocPtr? = data.withUnsafeBytes { raw in
            raw.baseAddress!.withMemoryRebound(to: CChar.self, capacity: raw.count) {
                xmlReadMemory($0, Int32(clamping: raw.count), nil, nil, options)
            }
        }
        guard let doc else { return nil }
        defer { xmlFreeDoc(doc) }
        let document = DOMNode(kind: .element, name: "#document")
        copyChildren(of: UnsafeMutableRawPointer(doc).assumingMemoryBound(to: xmlNode.self), into: document, html: false)
        return document.children.isEmpty ? nil : document
    }

    /// Copies libxml2's children of `source` below `target`, iteratively.
    private static func copyChildren(of source: UnsafeMutablePointer<xmlNode>, into target: DOMNode, html: Bool) {
        var stack: [(UnsafeMutablePointer<xmlNode>, DOMNode, Int)] = [(source, target, 0)]
        while let (from, to, depth) = stack.popLast() {
            var child = from.pointee.children
            var pending: [(UnsafeMutablePointer<xmlNode>, DOMNode, Int)] = []
            while let node = child {
                switch node.pointee.type {
                case XML_ELEMENT_NODE:
                    let element = makeElement(node, html: html)
                    if depth < maxDepth {
                        to.append(element)
                        pending.append((node, element, depth + 1))
                    } else {
                        // Too deep: keep the text, drop the structure.
                        pending.append((node, to, depth))
                    }
                case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                    if let content = node.pointee.content {
                        let text = String(cString: content)
                        if let last = to.children.last, last.kind == .text {
                            last.text += text
                        } else {
                            to.append(DOMNode(kind: .text, name: "#text", text: text))
                        }
                    }
                case XML_ENTITY_REF_NODE:
                    // An entity the parser did not know stays as written, as browsers show it.
                    if let name = node.pointee.name {
                        to.append(DOMNode(kind: .text, name: "#text", text: "&" + String(cString: name) + ";"))
                    }
                default:
                    break  // comments, processing instructions, DTDs
                }
                child = node.pointee.next
            }
            stack.append(contentsOf: pending.reversed())
        }
    }

    private static func makeElement(_ node: UnsafeMutablePointer<xmlNode>, html: Bool) -> DOMNode {
        let rawName = node.pointee.name.map { String(cString: $0) } ?? ""
        let name = html ? rawName.lowercased() : rawName
        let namespace = html ? nil : node.pointee.ns?.pointee.href.map { String(cString: $0) }
        var attributes: [(name: String, value: String)] = []
        var property = node.pointee.properties
        while let attribute = property {
            if let attributeName = attribute.pointee.name {
                var key = String(cString: attributeName)
                if !html, let prefix = attribute.pointee.ns?.pointee.prefix {
                    key = String(cString: prefix) + ":" + key
                }
                var value = ""
                var text = attribute.pointee.children
                while let piece = text {
                    if let content = piece.pointee.content { value += String(cString: content) }
                    text = piece.pointee.next
                }
                attributes.append((html ? key.lowercased() : key, value))
            }
            property = attribute.pointee.next
        }
        return DOMNode(kind: .element, name: name, namespace: namespace, attributes: attributes)
    }
}
