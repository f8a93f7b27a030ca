//! `brig delete [--force] ID`: `--force` of a missing container succeeds, as runc (the shim relies on it).

use crate::cli::{Cli, DeleteArgs};
use crate::container::lifecycle;
use anyhow::Result;

pub fn run(cli: &Cli, a: &DeleteArgs) -> Result<i32> {
    lifecycle::delete(&cli.root, &a.id, a.force)?;
    Ok(0)
}
