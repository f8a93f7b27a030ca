//! `brig rm [-f] ID...`: delete containers, printing each id removed. A running or paused one is refused
//! without -f (with a hint); -f kills it first. Volumes and the bundle are never touched; the overlay layer
//! goes with the container.

use crate::cli::{Cli, RmArgs};
use crate::container::{lifecycle, Container, Status};
use anyhow::{bail, Result};

pub fn run(cli: &Cli, a: &RmArgs) -> Result<i32> {
    let mut failed = 0;
    for id in &a.ids {
        match remove(cli, id, a.force) {
            Ok(()) => println!("{id}"),
            Err(e) => {
                super::report(&format!("{e:#}"));
                failed += 1;
            }
        }
    }
    Ok(i32::from(failed > 0))
}

fn remove(cli: &Cli, id: &str, force: bool) -> Result<()> {
    let c = Container::load(&cli.root, id)?;
    let status = c.status();
    if matches!(status, Status::Running | Status::Paused) && !force {
        bail!("container {id} is {status}: stop it first (brig stop {id}) or use brig rm -f {id}");
    }
    lifecycle::remove(c, true)
}
