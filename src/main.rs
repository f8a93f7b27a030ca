//! brig: parse the command line, set up logging, dispatch to a verb, and turn errors into one line on stderr,
//! a record in `--log`, and a non-zero exit.

mod cgroups;
mod cli;
mod commands;
mod commit;
mod container;
mod hooks;
mod logs;
mod process;
mod rootfs;
mod security;
mod signals;
mod spec;

use clap::Parser;
use cli::{Cli, Command};

fn main() {
    // Not dumpable: no container process can open /proc/PID/exe of brig, nor of the init it forks (the flag is
    // inherited), which is the brig binary until its execve (CVE-2019-5736). execve of the container's program
    // makes that process dumpable again.
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let cli = Cli::parse();
    // Before brig opens anything: its own fds must not land in the range handed to the container.
    match &cli.command {
        Some(Command::Create(a)) => {
            process::reserve_preserved_fds(process::listen_fds() + a.preserve_fds)
        }
        Some(Command::Run(a)) => {
            process::reserve_preserved_fds(process::listen_fds() + a.create.preserve_fds)
        }
        Some(Command::Exec(a)) => process::reserve_preserved_fds(a.preserve_fds),
        _ => {}
    }
    if let Some(path) = &cli.log {
        if let Err(e) = logs::init(path, cli.log_format, cli.debug) {
            eprintln!("brig: cannot open log file {}: {e}", path.display());
            std::process::exit(1);
        }
    }
    let code = match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            commands::report(&format!("{e:#}"));
            1
        }
    };
    std::process::exit(code);
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    if cli.version {
        commands::version::run();
        return Ok(0);
    }
    if cli.systemd_cgroup {
        anyhow::bail!(
            "--systemd-cgroup: the systemd cgroup driver is not available in this version of brig"
        );
    }
    let Some(command) = &cli.command else {
        use clap::CommandFactory;
        Cli::command().print_help()?;
        return Ok(2);
    };
    match command {
        Command::Create(a) => commands::create::run(cli, a),
        Command::Start(a) => commands::start::run(cli, &a.id),
        Command::State(a) => commands::state::run(cli, &a.id),
        Command::Kill(a) => commands::kill::run(cli, a),
        Command::Delete(a) => commands::delete::run(cli, a),
        Command::Run(a) => commands::run::run(cli, a),
        Command::List(a) => commands::list::run(cli, a),
        Command::Spec(a) => commands::spec::run(a),
        Command::Pause(a) => commands::pause::run(cli, &a.id, true),
        Command::Resume(a) => commands::pause::run(cli, &a.id, false),
        Command::Ps(a) => commands::ps::run(cli, a),
        Command::Features => commands::features::run(),
        Command::Update(a) => commands::update::run(cli, a),
        Command::Events(a) => commands::events::run(cli, a),
        Command::Exec(a) => commands::exec::run(cli, a),
        Command::Logs(a) => commands::logs::run(cli, a),
        Command::Stop(a) => commands::stop::run(cli, a),
        Command::Rm(a) => commands::rm::run(cli, a),
        Command::Commit(a) => commands::commit::run(cli, a),
    }
}
