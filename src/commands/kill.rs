//! `brig kill [--all] ID [SIGNAL]`.

use crate::cli::{Cli, KillArgs};
use crate::container::{lifecycle, Container};
use anyhow::Result;

pub fn run(cli: &Cli, a: &KillArgs) -> Result<i32> {
    let sig = crate::signals::parse(&a.signal)?;
    let c = Container::load(&cli.root, &a.id)?;
    lifecycle::kill(&c, sig, a.all)?;
    Ok(0)
}
