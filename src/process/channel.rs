//! The parent/init sync channel: a SOCK_SEQPACKET socketpair, so every message arrives whole. A message is a
//! tag byte plus payload. Errors travel as text so the parent can report them with context.

use anyhow::{bail, Result};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Parent -> init: namespaces are mapped and the cgroup joined; payload is the state JSON for hooks.
pub const GO: u8 = b'G';
/// Init -> parent: run the prestart and createRuntime hooks now (rootfs mounted, before pivot_root).
pub const RUN_HOOKS: u8 = b'H';
/// Parent -> init: those hooks succeeded.
pub const HOOKS_DONE: u8 = b'h';
/// Init -> parent: set up and waiting for `start`.
pub const READY: u8 = b'R';
/// Init or exec'd process -> parent: the seccomp notify fd (SCM_RIGHTS), for linux.seccomp.listenerPath.
pub const SECCOMP_FD: u8 = b'S';
/// Init -> parent: failed; payload is the message.
pub const ERROR: u8 = b'E';

const MAX_MESSAGE: usize = 1 << 20;

/// A message: its tag, its payload, and the descriptor it carried (SCM_RIGHTS), if any.
pub type Message = (u8, Vec<u8>, Option<OwnedFd>);

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

    /// Send a message carrying one file descriptor (SCM_RIGHTS).
    pub fn send_fd(&self, tag: u8, fd: &OwnedFd) -> Result<()> {
        send_with_fd(self.fd.as_raw_fd(), &[tag], fd.as_raw_fd())
            .map_err(|e| anyhow::anyhow!("sync socket: {e}"))
    }

    /// The next message, or None when the other side has closed (exited).
    pub fn recv(&self) -> Result<Option<(u8, Vec<u8>)>> {
        Ok(self.recv_with_fd()?.map(|(t, p, _)| (t, p)))
    }

    /// The next message and the descriptor it carries, if any.
    pub fn recv_with_fd(&self) -> Result<Option<Message>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (n, fd) = recv_with_fd(self.fd.as_raw_fd(), &mut buf)
            .map_err(|e| anyhow::anyhow!("sync socket: {e}"))?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        let tag = buf.remove(0);
        Ok(Some((tag, buf, fd)))
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

/// Send `payload` with one descriptor attached (SCM_RIGHTS): the sync socket, the console socket and the
/// seccomp listener all pass descriptors this way.
pub fn send_with_fd(sock: RawFd, payload: &[u8], fd: RawFd) -> nix::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd];
    sendmsg::<()>(
        sock,
        &[std::io::IoSlice::new(payload)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(|_| ())
}

/// Receive one message into `buf`: its length and the descriptor that came with it (close-on-exec), if any.
pub fn recv_with_fd(sock: RawFd, buf: &mut [u8]) -> nix::Result<(usize, Option<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    loop {
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = match recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r?,
        };
        let mut fd = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: descriptors the kernel just gave us.
                fd = fds.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
            }
        }
        return Ok((msg.bytes, fd));
    }
}
