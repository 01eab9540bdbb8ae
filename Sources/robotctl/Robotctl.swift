import ArgumentParser

@main
struct Robotctl: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "robotctl", abstract: "Control a running robotd.")
}
