//! The container status state machine. Every verb asks here whether it may act; the allowed transitions are
//! written down once, in `check`.

use anyhow::{bail, Result};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a verb wants to do to a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Start,
    Kill,
    Delete { force: bool },
    Pause,
    Resume,
    Exec,
}

/// May `op` act on a container in `status`? The error texts keep runc's phrases ("container not running",
/// "not stopped") because containerd and podman match on them.
pub fn check(id: &str, status: Status, op: Op) -> Result<()> {
    use Status::*;
    let ok = match op {
        // start: created -> running
        Op::Start => status == Created,
        // kill: created|running|paused -> (stopped, eventually)
        Op::Kill => status != Stopped,
        // delete: stopped|created -> gone; running|paused only with --force
        Op::Delete { force } => matches!(status, Stopped | Created) || force,
        // pause: running -> paused; resume: paused -> running
        Op::Pause => status == Running,
        Op::Resume => status == Paused,
        // exec joins a live, unfrozen container
        Op::Exec => matches!(status, Created | Running),
    };
    if ok {
        return Ok(());
    }
    match (op, status) {
        (Op::Start, Running | Paused) => {
            bail!("container {id} is already started (status {status})")
        }
        (Op::Start, Stopped) => bail!(
            "container {id} cannot be started: it has stopped (delete it and create it again)"
        ),
        (Op::Kill, _) => bail!("container {id} is not running: container not running"),
        (Op::Delete { .. }, _) => {
            bail!("cannot delete container {id} that is not stopped: {status} (use delete --force)")
        }
        (Op::Pause, _) => {
            bail!("container {id} is not running (status {status}): container not running")
        }
        (Op::Resume, _) => bail!("container {id} is not paused (status {status})"),
        (Op::Exec, Paused) => bail!("cannot exec in a paused container {id} (resume it first)"),
        (Op::Exec, _) => bail!("cannot exec in a stopped container {id}: container not running"),
        (Op::Start, Created) => unreachable!("start of a created container is allowed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn transitions() {
        assert!(check("c", Created, Op::Start).is_ok());
        for s in [Running, Paused, Stopped] {
            assert!(check("c", s, Op::Start).is_err());
        }
        assert!(check("c", Stopped, Op::Kill)
            .unwrap_err()
            .to_string()
            .contains("container not running"));
        for s in [Created, Running, Paused] {
            assert!(check("c", s, Op::Kill).is_ok());
        }
        assert!(check("c", Stopped, Op::Delete { force: false }).is_ok());
        assert!(check("c", Created, Op::Delete { force: false }).is_ok());
        let e = check("c", Running, Op::Delete { force: false })
            .unwrap_err()
            .to_string();
        assert!(e.contains("not stopped: running"), "{e}");
        assert!(check("c", Running, Op::Delete { force: true }).is_ok());
        assert!(check("c", Running, Op::Pause).is_ok());
        assert!(check("c", Paused, Op::Pause).is_err());
        assert!(check("c", Paused, Op::Resume).is_ok());
        assert!(check("c", Running, Op::Resume).is_err());
        assert!(check("c", Paused, Op::Exec)
            .unwrap_err()
            .to_string()
            .contains("paused"));
        assert!(check("c", Stopped, Op::Exec).is_err());
        assert!(check("c", Running, Op::Exec).is_ok());
        assert!(check("c", Created, Op::Exec).is_ok());
    }
}
