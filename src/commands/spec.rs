//! `brig spec`: write the default config.json (the container `runc spec` describes) into the bundle.

use crate::cli::SpecArgs;
use anyhow::{bail, Result};
use std::io::Write;

pub fn run(a: &SpecArgs) -> Result<i32> {
    if a.rootless {
        bail!("spec --rootless: rootless containers are not supported by this version of brig");
    }
    let path = a.bundle.join("config.json");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} exists: remove it first", path.display())
        }
        Err(e) => bail!("cannot create {}: {e}", path.display()),
    };
    file.write_all(crate::spec::DEFAULT_CONFIG.as_bytes())?;
    Ok(0)
}
