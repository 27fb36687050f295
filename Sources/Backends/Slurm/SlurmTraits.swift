extension SlurmBackend {
    /// Job arrays on a Slurm cluster: attempts outlive their controller; the queue flags apply; `sbatch --test-only`
    /// checks the resources and MaxArraySize is read while the experiment is planned.
    static let traits = BackendTraits(
        attemptsOutliveController: true, takesClusterFlags: true, workersReadInvocationFiles: true,
        prefetchLimits: { prefetchMaxArraySize() }, checkResources: { try checkOptions($0) },
        make: { c in SlurmBackend(layout: c.layout, clowdr: c.given.clowdr, jobNamePrefix: c.given.jobName ?? "clowdr").withMaxArraySize(c.limits) })
}
