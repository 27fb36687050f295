import Foundation

/// Where this clowdr is installed, for the commands it writes for other machines (each element of a Slurm array runs
/// `clowdr task` on its node, from the same shared install).
public enum Installation {
    /// `CLOWDR_EXECUTABLE` when set (the launcher of a `make dist` install sets it: its binary runs through the
    /// bundled loader, which is what `/proc/self/exe` names), else the running executable.
    public static var executable: String {
        if let launcher = ProcessInfo.processInfo.environment["CLOWDR_EXECUTABLE"], !launcher.isEmpty { return launcher }
        return (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
