import ArgumentParser

/// "Did you mean": the known command or option nearest to a mistyped one, as Git suggests.
enum Suggestions {
    /// The candidate nearest to `word` when it is near enough to be a typo (an edit or two, a
    /// swap of neighbours counting as one), else nil.
    static func nearest(_ word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0)) }.filter { $0.1 <= max(1, min(2, word.count / 3)) }
        return scored.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }

    /// The long options a command takes, read from its help (ArgumentParser has no listing of them).
    static func options(of command: any ParsableCommand.Type) -> [String] {
        let help = Margin.helpMessage(for: command)
        var found = Set<String>(["--help", "--version"])
        var current = ""
        for c in help + " " {
            if current.isEmpty {
                if c == "-" { current = "-" }
            } else if c.isLetter || c.isNumber || c == "-" {
                current.append(c)
            } else {
                if current.hasPrefix("--"), current.count > 2 { found.insert(current) }
                current = ""
            }
        }
        return found.sorted()
    }

    /// The subcommand `arguments` name (its path through `token create`, say), and the index of
    /// the first argument after that path.
    static func command(in arguments: [String]) -> (type: any ParsableCommand.Type, path: [String], next: Int) {
        var type: any ParsableCommand.Type = Margin.self
        var path: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            guard !word.hasPrefix("-"),
                  let sub = type.configuration.subcommands.first(where: { name(of: $0) == word })
            else { break }
            type = sub
            path.append(word)
            index += 1
        }
        return (type, path, index)
    }

    static func name(of command: any ParsableCommand.Type) -> String {
        command.configuration.commandName ?? String(describing: command).lowercased()
    }

    /// A sentence for arguments that failed to parse because of a typo, or nil when none is seen.
    static func explain(_ arguments: [String]) -> String? {
        let (type, path, next) = command(in: arguments)
        let shown = (["margin"] + path).joined(separator: " ")
        let subcommands = type.configuration.subcommands.map(name(of:))
        if !subcommands.isEmpty, next < arguments.count, !arguments[next].hasPrefix("-"), arguments[next] != "help" {
            let word = arguments[next]
            let what = path.isEmpty ? "a margin command" : "a `\(shown)` command"
            if let near = nearest(word, among: subcommands) {
                return "'\(word)' is not \(what); did you mean `\(shown) \(near)`?"
            }
            return "'\(word)' is not \(what); see `\(shown) --help` (\(subcommands.joined(separator: ", ")))"
        }
        let known = options(of: type)
        for argument in arguments[next...] {
            if argument == "--" { break }
            guard argument.hasPrefix("--"), argument.count > 2 else { continue }
            let option = String(argument.prefix { $0 != "=" })
            if known.contains(option) { continue }
            if let near = nearest(option, among: known) {
                return "`\(shown)` has no option \(option); did you mean \(near)?"
            }
            return "`\(shown)` has no option \(option); see `\(shown) --help`"
        }
        return nil
    }
}
