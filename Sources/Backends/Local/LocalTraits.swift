extension LocalBackend {
    /// This machine's pool: attempts run as children of their controller and die with it; no queue flags, nothing
    /// to check before anything is recorded.
    static let traits = BackendTraits(
        attemptsOutliveController: false, takesClusterFlags: false, workersReadInvocationFiles: false,
        make: { c in
            LocalBackend(layout: c.layout, descriptor: try c.descriptor(), options: c.options, log: c.log, factory: c.factory, cancel: c.cancel)
        })
}
