//! `brig commit ID [IMAGE.tar]`: the container's filesystem as an image archive (see src/commit.rs). A running
//! container is paused while its files are read.

use crate::cli::{Cli, CommitArgs};
use crate::commit::{self, CommitOptions};
use crate::container::{lifecycle, Container};
use anyhow::Result;
use std::path::PathBuf;

pub fn run(cli: &Cli, a: &CommitArgs) -> Result<i32> {
    // The id names the default archive: a hostile one must not reach the path.
    crate::container::validate_id(&a.id)?;
    let output = a
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.tar", a.id)));
    let reference = match &a.tag {
        Some(t) => commit::image_reference(t)?,
        None => commit::default_reference(&a.id),
    };
    let opts = CommitOptions {
        format: a.format,
        reference,
        message: a.message.as_deref(),
        output: &output,
        force: a.force,
    };
    commit::check_target(&opts)?;
    let c = Container::load(&cli.root, &a.id)?;
    let spec = lifecycle::recorded_spec(&c.dir)?;
    // Before the container is paused: a bad --change costs nothing.
    let config = commit::image_config(&spec, &a.change)?;
    let layers = lifecycle::layer_sources(&c);
    let _still = lifecycle::hold_still(&c)?;
    commit::commit(&layers, config, &a.id, &opts)?;
    println!("{}", output.display());
    Ok(0)
}
