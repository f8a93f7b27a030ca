//! `brig logs [-f] [--tail N] [--timestamps] ID`: the output of a container started with `run -d`, stdout lines
//! to stdout and stderr lines to stderr; `-f` follows until the container has stopped and its monitor has
//! logged the last line.

use crate::cli::{Cli, LogsArgs};
use crate::container::logfile::{LogLine, LogReader, Stream};
use crate::container::{self, monitor};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::time::{Duration, Instant};

pub fn run(cli: &Cli, a: &LogsArgs) -> Result<i32> {
    container::validate_id(&a.id)?;
    let dir = cli.root.join(&a.id);
    if !dir.join(container::STATE_FILE).exists() {
        bail!("container {} does not exist", a.id);
    }
    let mut reader = LogReader::open(&dir)?.with_context(|| {
        format!(
            "container {} has no log: only containers started with `brig run -d` keep one (this one's output \
             went to the stdio of whoever created it)",
            a.id
        )
    })?;
    let lines = reader.next_lines()?;
    let skip = a.tail.map_or(0, |n| lines.len().saturating_sub(n));
    if !print(&lines[skip..], a.timestamps) || !a.follow {
        return Ok(0);
    }
    let mut stopped_since: Option<Instant> = None;
    loop {
        let finished = finished(&dir, &mut stopped_since);
        if !print(&reader.next_lines()?, a.timestamps) || finished {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Has the container ended and its last line been logged? The monitor writes the exit record after the last
/// line; `--rm` removes the directory after that. A stopped container without a record (its monitor was
/// killed) is given a moment for lines still in flight.
fn finished(dir: &std::path::Path, stopped_since: &mut Option<Instant>) -> bool {
    if dir.join(monitor::EXIT_RECORD).exists() || !dir.join(container::STATE_FILE).exists() {
        return true;
    }
    let stopped = container::read_state(dir)
        .map(|s| container::derive_status(dir, &s) == container::Status::Stopped)
        .unwrap_or(true);
    if !stopped {
        *stopped_since = None;
        return false;
    }
    stopped_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(2)
}

/// Print lines; false once stdout or stderr is closed (`logs | head`), which ends `logs` quietly.
fn print(lines: &[LogLine], timestamps: bool) -> bool {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for l in lines {
        let w: &mut dyn Write = match l.stream {
            Stream::Stdout => &mut out,
            Stream::Stderr => &mut err,
        };
        let written = match (&l.time, timestamps) {
            (Some(t), true) => write!(w, "{t} ").and_then(|_| w.write_all(&l.text)),
            _ => w.write_all(&l.text),
        };
        if written.is_err() {
            return false;
        }
    }
    out.flush().is_ok()
}
