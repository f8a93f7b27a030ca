//! `brig stop [-t SECONDS] ID...`: SIGTERM, wait, SIGKILL after the timeout; one line per container saying how
//! it ended. A container that had stopped already is fine (exit 0); an unknown id is an error (exit 1) after
//! the others are done.

use crate::cli::{Cli, StopArgs};
use crate::container::lifecycle::{self, StopOutcome};
use anyhow::Result;
use std::time::Duration;

pub fn run(cli: &Cli, a: &StopArgs) -> Result<i32> {
    let mut failed = 0;
    for id in &a.ids {
        match lifecycle::stop(&cli.root, id, Duration::from_secs(a.time)) {
            Ok(StopOutcome::Terminated) => println!("{id}"),
            Ok(StopOutcome::WasStopped) => println!("{id} (was not running)"),
            Ok(StopOutcome::Killed) => {
                println!("{id} (killed: still running {}s after SIGTERM)", a.time)
            }
            Err(e) => {
                super::report(&format!("{e:#}"));
                failed += 1;
            }
        }
    }
    Ok(i32::from(failed > 0))
}
