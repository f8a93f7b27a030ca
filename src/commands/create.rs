//! `brig create`: prints nothing on success (its stdio is the container's for podman and containerd).

use crate::cli::{Cli, CreateArgs};
use crate::container::lifecycle::{self, CreateOptions};
use anyhow::{Context, Result};

pub fn run(cli: &Cli, a: &CreateArgs) -> Result<i32> {
    let id = a
        .given_id()
        .context("create needs a container id: brig create [OPTIONS] ID")?;
    lifecycle::create(&cli.root, &options(a, id, true))?;
    Ok(0)
}

pub fn options<'a>(a: &'a CreateArgs, id: &'a str, child_of_caller: bool) -> CreateOptions<'a> {
    CreateOptions {
        id,
        bundle: &a.bundle,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        // systemd's activated sockets come first, then --preserve-fds (as runc).
        preserve_fds: crate::process::listen_fds() + a.preserve_fds,
        edits: &a.edits,
        stdio: None,
        child_of_caller,
        // Only a foreground run (brig stays) can relay a terminal; create needs --console-socket.
        relay_terminal: !child_of_caller,
    }
}
