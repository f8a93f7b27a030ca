//! `brig pause ID` / `brig resume ID`: the freezer (v1 freezer.state, v2 cgroup.freeze).

use crate::cli::Cli;
use crate::container::{lifecycle, Container};
use anyhow::Result;

pub fn run(cli: &Cli, id: &str, pause: bool) -> Result<i32> {
    let c = Container::load(&cli.root, id)?;
    lifecycle::set_paused(&c, pause)?;
    Ok(0)
}
