//! Command-line definitions, flag for flag with runc (see ../shared/CONTRACT.md for what clients pass).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "brig",
    about = "brig: a runc-compatible OCI container runtime",
    disable_version_flag = true
)]
pub struct Cli {
    /// root directory for storage of container state
    #[arg(long, global = true, default_value = "/run/brig")]
    pub root: PathBuf,
    /// file to append brig's own log and errors to (default: stderr only)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// format of --log: text or json
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// log debug messages too
    #[arg(long, global = true)]
    pub debug: bool,
    /// manage cgroups through systemd (not available in this version: refused)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// print the version
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// create a container from a bundle; it waits for `start`
    Create(CreateArgs),
    /// start a created container
    Start(IdArg),
    /// print the state of a container as OCI state JSON
    State(IdArg),
    /// send a signal to the container's init process (default SIGTERM)
    Kill(KillArgs),
    /// delete a container and everything it holds
    Delete(DeleteArgs),
    /// create and start a container; without -d wait for it and exit with its status
    Run(RunArgs),
    /// list containers
    List(ListArgs),
    /// write a default config.json into the bundle
    Spec(SpecArgs),
    /// freeze every process of a running container
    Pause(IdArg),
    /// thaw a paused container
    Resume(IdArg),
    /// with ID: the processes of that container (runc); without: the containers, like `docker ps`
    Ps(PsArgs),
    /// print what this build of brig supports, as runtime-spec `features` JSON
    Features,
    /// change the cgroup resources of a running container
    Update(UpdateArgs),
    /// resource usage and OOM events of a container, as JSON lines
    Events(EventsArgs),
    /// run a new process in a running container
    Exec(ExecArgs),
    /// print the output of a container started with `run -d`
    Logs(LogsArgs),
    /// stop containers: SIGTERM, then SIGKILL after a timeout
    Stop(StopArgs),
    /// remove containers (running ones only with --force)
    Rm(RmArgs),
    /// write a container's filesystem as an image archive for `podman load` / `docker load`
    Commit(CommitArgs),
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// keep printing new output until the container stops
    #[arg(short, long)]
    pub follow: bool,
    /// print only the last N lines
    #[arg(short = 'n', long)]
    pub tail: Option<usize>,
    /// prefix each line with the time brig received it (RFC 3339)
    #[arg(short, long)]
    pub timestamps: bool,
    /// container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// seconds to wait after SIGTERM before SIGKILL
    #[arg(short = 't', long = "time", default_value_t = 10)]
    pub time: u64,
    /// container ids
    #[arg(required = true)]
    pub ids: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// kill running containers first
    #[arg(short, long)]
    pub force: bool,
    /// container ids
    #[arg(required = true)]
    pub ids: Vec<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    /// docker-archive (`docker save` layout): loads in docker and podman
    Docker,
    /// oci-archive (OCI image layout): loads in podman, skopeo, containerd
    Oci,
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// archive layout
    #[arg(long, value_enum, default_value = "docker")]
    pub format: ImageFormat,
    /// image name[:tag] recorded in the archive (default: the container id, lower-cased, :latest)
    #[arg(long)]
    pub tag: Option<String>,
    /// commit message, recorded in the image history
    #[arg(short, long)]
    pub message: Option<String>,
    /// change the image config: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL (`CMD=["sh"]` or `ENV K=V`)
    #[arg(short, long)]
    pub change: Vec<String>,
    /// overwrite IMAGE.tar if it exists
    #[arg(long)]
    pub force: bool,
    /// container id
    pub id: String,
    /// archive to write (default: ./ID.tar)
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// the process as OCI process JSON (instead of CMD and the flags below)
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// allocate a terminal (sent over --console-socket)
    #[arg(short, long)]
    pub tty: bool,
    /// start the process and return at once
    #[arg(short, long)]
    pub detach: bool,
    /// file to write the process's host pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// unix socket that receives the pty master with --tty
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// pass N file descriptors from 3 on into the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// set an environment variable (K=V), repeatable
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// UID[:GID] to run as
    #[arg(short, long)]
    pub user: Option<String>,
    /// additional group ids, repeatable
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// add a capability (CAP_X), repeatable
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// AppArmor profile (ignored when the host has AppArmor disabled, as runc)
    #[arg(short, long)]
    pub apparmor: Option<String>,
    /// container id
    pub id: String,
    /// the command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// print one stats record and exit
    #[arg(long)]
    pub stats: bool,
    /// time between stats records (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// LinuxResources JSON from FILE, or from stdin with `-` (zeros mean "unchanged", as docker sends them)
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// memory limit in bytes (suffixes k, m, g allowed; -1 for no limit)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// memory plus swap limit
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// memory soft limit
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPU CFS quota in microseconds (-1 for none)
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPUs the container may use (e.g. 0-1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// memory nodes the container may use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// maximum number of processes (-1 or 0 for no limit)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// block IO weight (10-1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// output format: table, or json (with ID: an array of host pids, as runc)
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// without ID: list stopped containers too
    #[arg(short, long)]
    pub all: bool,
    /// without ID: print only container ids
    #[arg(short, long)]
    pub quiet: bool,
    /// container id: list its processes (runc's ps); without it, list containers
    pub id: Option<String>,
    /// options passed to ps(1) for the table (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct IdArg {
    /// container id
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// path to the bundle (default: the current directory)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// unix socket that receives the pty master when process.terminal is true
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// file to write the container init's host pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// do not use pivot_root (for a rootfs on a ramdisk)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// pass N file descriptors from 3 on into the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// container id (`run` makes one up when it is left out)
    pub id: Option<String>,
    /// the container id, docker's way (instead of ID)
    #[arg(long, value_name = "ID", conflicts_with = "id")]
    pub name: Option<String>,
    #[command(flatten)]
    pub edits: SpecEdits,
}

impl CreateArgs {
    /// The id given as ID or as --name.
    pub fn given_id(&self) -> Option<&str> {
        self.id.as_deref().or(self.name.as_deref())
    }
}

/// Convenience flags of `run` and `create`: they change the spec in memory, never the bundle's config.json.
#[derive(Args, Debug, Clone, Default)]
pub struct SpecEdits {
    /// bind-mount a host directory: HOST:CTR[:ro|:rw] (HOST is created when missing), repeatable
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// set an environment variable K=V (replacing the bundle's), repeatable
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// the container's hostname (needs a uts namespace in config.json)
    #[arg(long)]
    pub hostname: Option<String>,
    /// working directory in the container (absolute)
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// user to run as: UID[:GID] or a name from the rootfs's /etc/passwd
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// give the container a private writable overlay layer over the bundle's rootfs (kept in its state dir)
    #[arg(long)]
    pub overlay: bool,
    /// the program and its arguments, instead of the bundle's process.args (after `--`)
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// detach: start the container and return at once
    #[arg(short, long)]
    pub detach: bool,
    /// keep the container after it exits (foreground run)
    #[arg(long = "keep", conflicts_with = "rm")]
    pub keep: bool,
    /// remove a detached container when it exits (a foreground run always does, unless --keep)
    #[arg(long)]
    pub rm: bool,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// send the signal to every process of the container
    #[arg(short, long)]
    pub all: bool,
    /// container id
    pub id: String,
    /// signal: a number, TERM or SIGTERM
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// kill a running container first; a missing container is not an error
    #[arg(short, long)]
    pub force: bool,
    /// container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// output format: table or json
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// print only container ids
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// bundle directory to write config.json into
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// a spec for a rootless container (not supported: refused)
    #[arg(long)]
    pub rootless: bool,
}
