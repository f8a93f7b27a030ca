//! `brig start ID`: release a created container.

use crate::cli::Cli;
use crate::container::{lifecycle, Container};
use anyhow::Result;

pub fn run(cli: &Cli, id: &str) -> Result<i32> {
    let c = Container::load(&cli.root, id)?;
    lifecycle::start(&c)?;
    Ok(0)
}
