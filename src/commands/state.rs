//! `brig state ID`: the OCI state JSON, indented as runc prints it.

use crate::cli::Cli;
use crate::container::Container;
use anyhow::Result;

pub fn run(cli: &Cli, id: &str) -> Result<i32> {
    let c = Container::load(&cli.root, id)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&c.state.oci(c.status()))?
    );
    Ok(0)
}
