//! Command-line definitions, flag for flag with runc (see ../shared/CONTRACT.md for what clients pass).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "brig", about = "brig: a runc-compatible OCI container runtime", disable_version_flag = true)]
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
