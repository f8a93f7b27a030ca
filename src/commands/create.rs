//! `brig create`: prints nothing on success (its stdio is the container's for podman and containerd).

use crate::cli::{Cli, CreateArgs};
use crate::container::lifecycle::{self, CreateOptions};
use anyhow::Result;

pub fn run(cli: &Cli, a: &CreateArgs) -> Result<i32> {
    lifecycle::create(&cli.root, &options(a, true))?;
    Ok(0)
}

pub fn options(a: &CreateArgs, child_of_caller: bool) -> CreateOptions<'_> {
    CreateOptions {
        id: &a.id,
        bundle: &a.bundle,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        // systemd's activated sockets come first, then --preserve-fds (as runc).
        preserve_fds: crate::process::listen_fds() + a.preserve_fds,
        child_of_caller,
        // Only a foreground run (brig stays) can relay a terminal; create and run -d need --console-socket.
        relay_terminal: !child_of_caller,
    }
}
