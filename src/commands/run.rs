//! `brig run`: create + start. Detached, the init is left to brig's caller; in the foreground brig waits,
//! forwards signals, deletes the container (unless --keep) and exits with the container's status.

use crate::cli::{Cli, RunArgs};
use crate::container::{lifecycle, Container};
use crate::process::foreground;
use anyhow::Result;

pub fn run(cli: &Cli, a: &RunArgs) -> Result<i32> {
    let id = &a.create.id;
    if a.detach {
        lifecycle::create(&cli.root, &super::create::options(&a.create, true))?;
        return start_or_remove(cli, id).map(|_| 0);
    }
    let blocked = foreground::block_signals();
    let created = lifecycle::create(&cli.root, &super::create::options(&a.create, false))?;
    start_or_remove(cli, id)?;
    let waited = lifecycle::wait_foreground(&blocked, created.state.pid, created.relay);
    drop(blocked);
    if !a.keep {
        lifecycle::delete(&cli.root, id, true)?;
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
