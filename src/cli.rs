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
    /// list the processes of a container
    Ps(PsArgs),
    /// print what this build of brig supports, as runtime-spec `features` JSON
    Features,
    /// change the cgroup resources of a running container
    Update(UpdateArgs),
    /// resource usage and OOM events of a container, as JSON lines
    Events(EventsArgs),
    /// run a new process in a running container
    Exec(ExecArgs),
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
    /// output format: table (ps output for the container's processes) or json (array of host pids)
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// container id
    pub id: String,
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
    /// container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// detach: start the container and return at once
    #[arg(short, long)]
    pub detach: bool,
    /// keep the container after it exits (foreground run)
    #[arg(long = "keep")]
    pub keep: bool,
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
