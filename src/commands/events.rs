//! `brig events [--stats] [--interval D] ID`: runc's JSON lines. With --stats one `stats` record; otherwise a
//! `stats` record every interval and an `oom` record whenever the OOM killer struck, until the container stops.

use crate::cgroups::{self, CgroupPlace};
use crate::cli::{Cli, EventsArgs};
use crate::container::{self, Container, Status};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::time::{Duration, Instant};

pub fn run(cli: &Cli, a: &EventsArgs) -> Result<i32> {
    let interval = humantime::parse_duration(&a.interval).with_context(|| {
        format!(
            "--interval {:?}: not a duration (e.g. 5s, 500ms)",
            a.interval
        )
    })?;
    if interval.is_zero() {
        bail!("--interval must be longer than zero");
    }
    let (dir, state) = {
        let c = Container::load(&cli.root, &a.id)?;
        if c.status() == Status::Stopped {
            bail!("container {} is stopped: container not running", a.id);
        }
        (c.dir.clone(), c.state.clone())
    };
    let place = state
        .cgroup
        .clone()
        .with_context(|| format!("container {} has no cgroup", a.id))?;
    if a.stats {
        emit(&stats_record(&a.id, &place))?;
        return Ok(0);
    }
    // The lock is not held while streaming: other verbs keep working on the container.
    let mut ooms = cgroups::stats::oom_kills(&place);
    let mut next_stats = Instant::now();
    loop {
        let n = cgroups::stats::oom_kills(&place);
        if n > ooms {
            emit(&serde_json::json!({"type": "oom", "id": a.id}))?;
            ooms = n;
        }
        if container::derive_status(&dir, &state) == Status::Stopped {
            return Ok(0);
        }
        if Instant::now() >= next_stats {
            emit(&stats_record(&a.id, &place))?;
            next_stats += interval;
        }
        // OOM kills are checked more often than stats are printed, so none is reported late.
        std::thread::sleep(interval.min(Duration::from_millis(100)));
    }
}

fn stats_record(id: &str, place: &CgroupPlace) -> serde_json::Value {
    serde_json::json!({"type": "stats", "id": id, "data": cgroups::stats::stats(place)})
}

fn emit(v: &serde_json::Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}")?;
    out.flush()?;
    Ok(())
}
