//! The parent/init sync channel: a SOCK_SEQPACKET socketpair, so every message arrives whole. A message is a
//! tag byte plus payload. Errors travel as text so the parent can report them with context.

use anyhow::{bail, Result};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::os::fd::{AsRawFd, OwnedFd};

/// Parent -> init: namespaces are mapped and the cgroup joined; payload is the state JSON for hooks.
pub const GO: u8 = b'G';
/// Init -> parent: run the prestart and createRuntime hooks now (rootfs mounted, before pivot_root).
pub const RUN_HOOKS: u8 = b'H';
/// Parent -> init: those hooks succeeded.
pub const HOOKS_DONE: u8 = b'h';
/// Init -> parent: set up and waiting for `start`.
pub const READY: u8 = b'R';
/// Init -> parent: failed; payload is the message.
pub const ERROR: u8 = b'E';

const MAX_MESSAGE: usize = 1 << 20;

pub struct Channel {
    fd: OwnedFd,
}

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| anyhow::anyhow!("cannot create sync socket: {e}"))?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, tag: u8, payload: &[u8]) -> Result<()> {
        let mut buf = Vec::with_capacity(payload.len() + 1);
        buf.push(tag);
        buf.extend_from_slice(payload);
        // SAFETY: send on a socket we own, from a valid buffer.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            bail!("sync socket: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// The next message, or None when the other side has closed (exited).
    pub fn recv(&self) -> Result<Option<(u8, Vec<u8>)>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            // SAFETY: recv into a buffer of the stated size.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                bail!("sync socket: {e}");
            }
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n as usize);
            let tag = buf.remove(0);
            return Ok(Some((tag, buf)));
        }
    }

    /// Wait for `want`; an ERROR message or a closed channel becomes an error.
    pub fn expect(&self, want: u8) -> Result<Vec<u8>> {
        match self.recv()? {
            Some((t, payload)) if t == want => Ok(payload),
            Some((ERROR, msg)) => bail!("{}", String::from_utf8_lossy(&msg)),
            Some((t, _)) => bail!("sync socket: unexpected message {:?}", t as char),
            None => bail!("the container init exited during setup"),
        }
    }

    pub fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}
