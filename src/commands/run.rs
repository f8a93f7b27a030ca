//! `brig run`: create + start. Detached, a small monitor keeps the container's output in its log (see
//! container/monitor.rs); in the foreground brig waits, forwards signals, deletes the container (unless --keep)
//! and exits with the container's status. Without an id, one is made up (and printed by `run -d`).

use crate::cli::{Cli, RunArgs};
use crate::container::{self, lifecycle, monitor, Container};
use crate::process::foreground;
use anyhow::Result;

pub fn run(cli: &Cli, a: &RunArgs) -> Result<i32> {
    let generated = match a.create.given_id() {
        Some(_) => None,
        None => Some(container::generate_id(&cli.root)?),
    };
    let id = a
        .create
        .given_id()
        .or(generated.as_deref())
        .unwrap_or_default();
    if a.detach {
        monitor::run_detached(
            &cli.root,
            &super::create::options(&a.create, id, false),
            a.rm,
        )?;
        if let Some(id) = &generated {
            println!("{id}");
        }
        return Ok(0);
    }
    let blocked = foreground::block_signals();
    let created = lifecycle::create(&cli.root, &super::create::options(&a.create, id, false))?;
    start_or_remove(cli, id)?;
    let waited = lifecycle::wait_foreground(&blocked, created.state.pid, created.relay);
    drop(blocked);
    if !a.keep {
        lifecycle::delete(&cli.root, id, true)?;
    } else if let Ok(code) = &waited {
        // `ps -a` shows how a kept container ended.
        monitor::write_exit_record(&cli.root, id, *code, None);
    }
    waited
}

/// A container that cannot be started is not left behind.
fn start_or_remove(cli: &Cli, id: &str) -> Result<()> {
    let started = Container::load(&cli.root, id).and_then(|c| lifecycle::start(&c));
    if let Err(e) = started {
        let _ = lifecycle::delete(&cli.root, id, true);
        return Err(e);
    }
    Ok(())
}
