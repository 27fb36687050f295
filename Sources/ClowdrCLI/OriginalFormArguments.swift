import ArgumentParser

/// What every original Clowdr command line (`local`, `cluster`, `cloud`) starts with: the tool, its invocations
/// and where experiments are kept, with the planning and execution options of `clowdr run`, which each one stands
/// for.
struct OriginalFormArguments: ParsableArguments {
    @Argument(help: "The Boutiques descriptor (JSON file).")
    var descriptor: String

    @Argument(help: "An invocation (JSON file), or a folder of them.")
    var invocation: String

    @Argument(help: "Where experiments are kept (for a cluster, on a file system its nodes share; for cloud, may be s3://BUCKET/PATH).")
    var provdir: String

    @OptionGroup var plan: PlanArguments

    @OptionGroup var execution: ExecutionOptions

    /// The `clowdr run` this command line stands for, keeping its experiments in `provdir` (default: the one given).
    func runCommand(provdir: String? = nil) throws -> RunCommand {
        var command = try RunCommand.parse([descriptor, invocation, "--provdir", provdir ?? self.provdir])
        command.plan = plan
        command.execution = execution
        return command
    }
}
