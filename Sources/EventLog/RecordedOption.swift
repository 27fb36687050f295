/// The options an experiment records of how it was run (`experiment_created`'s `options`, a string for each), named
/// once: `clowdr run` writes them, and rerun, watch, sync and the exports read some of them back. A key, once written
/// to a log, keeps its meaning; a new option is a new key. Options not given are absent (or empty).
public enum RecordedOption: String, CaseIterable, Sendable {
    // How the tasks were planned.
    /// `--dev`: only the first task ("true" or "false").
    case dev
    /// `--setup`: planned and recorded, nothing launched.
    case setup
    /// `--bids`: one task per participant × session.
    case bids
    /// `--sweep`: the swept inputs, comma-separated.
    case sweep
    /// `--derivatives`: the BIDS derivatives folder, absolute (or a URL as given).
    case derivatives
    /// `--groupby`: tasks per scheduler job.
    case groupby
    /// Whether `tasks/TASK.json` files were written ("true" or "false"): a rerun writes those of its tasks too.
    case invocationFiles = "invocation_files"

    // How attempts ran.
    /// `--jobs`: tasks at once on this machine.
    case jobs
    /// `--workdir`: the folder the tasks ran in.
    case workdir
    /// `--sample-interval`: seconds between samples.
    case sampleInterval = "sample_interval"
    /// `--volume`s, comma-separated HOST:CONTAINER (a rerun or a Batch job mounts them again).
    case volumes
    /// `--simg`: a Singularity image file.
    case simg
    /// `--user`: the container ran as the user ("true").
    case user
    /// `--container-runtime`: docker, podman, singularity or apptainer.
    case containerRuntime = "container_runtime"
    /// `--trace-files off`: the files attempts used were not observed ("off").
    case traceFiles = "trace_files"

    // Where attempts ran.
    /// `--backend`: local, slurm or awsbatch.
    case backend
    /// `--jobname`: the first part of the scheduler jobs' names (watch and rerun name theirs the same).
    case jobname
    /// `--clusterargs`: what each task asked of the scheduler, `KEY:VALUE,...` (a rerun starts from it).
    case clusterargs
    /// AWS Batch: the S3 folder the workers read and write.
    case s3
    /// AWS Batch: the image the tasks ran in.
    case image
    /// AWS Batch: the set-up's name, region, profile, endpoint and record (never keys or secrets).
    case awsSetup = "aws_setup"
    case awsRegion = "aws_region"
    case awsProfile = "aws_profile"
    case awsEndpoint = "aws_endpoint"
    case awsSetupRecord = "aws_setup_record"
}

extension Dictionary where Key == String, Value == String {
    /// The recorded option `option` of an experiment's options.
    public subscript(option: RecordedOption) -> String? {
        get { self[option.rawValue] }
        set { self[option.rawValue] = newValue }
    }
}
