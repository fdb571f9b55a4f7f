import ArgumentParser

struct CompletionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completion", abstract: "Print a shell completion script: bash, zsh or fish.",
        discussion: """
            bash: margin completion bash > ~/.local/share/bash-completion/completions/margin
            zsh:  margin completion zsh > "${fpath[1]}/_margin"
            fish: margin completion fish > ~/.config/fish/completions/margin.fish
            """)

    @Argument(help: "bash, zsh or fish.") var shell: String

    func validate() throws {
        guard CompletionShell(rawValue: shell) != nil else {
            throw ValidationError("unknown shell '\(shell)'; use bash, zsh or fish")
        }
    }

    func run() throws {
        guard let shell = CompletionShell(rawValue: shell) else { return }
        Output.line(Margin.completionScript(for: shell))
    }
}
