//! `brig ps ID`: runc's meaning, the processes of one container. JSON is a bare array of host pids (the
//! containerd shim parses it from combined stdout+stderr, so nothing else may be printed); the table is
//! ps(1)'s output cut down to the container's processes.
//! `brig ps` without an id: the containers, as a table like `docker ps` (-a adds stopped ones, -q ids only,
//! --format json).

use crate::cli::{Cli, ListFormat, PsArgs};
use crate::container::{self, lifecycle, monitor, Container, Status};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::time::{Duration, SystemTime};

pub fn run(cli: &Cli, a: &PsArgs) -> Result<i32> {
    match &a.id {
        Some(id) => {
            if a.all || a.quiet {
                bail!("ps: -a and -q list containers: leave out the id ({id:?})");
            }
            processes(cli, id, a)
        }
        // ps(1) options come after the id, so without one there are none.
        None => containers(cli, a),
    }
}

fn processes(cli: &Cli, id: &str, a: &PsArgs) -> Result<i32> {
    let c = Container::load(&cli.root, id)?;
    let pids = lifecycle::pids(&c)?;
    if a.format == ListFormat::Json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let args: Vec<String> = if a.ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        a.ps_args.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("cannot run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    print!(
        "{}",
        filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)?
    );
    Ok(0)
}

/// One container as `ps --format json` prints it.
#[derive(Serialize)]
struct Row {
    id: String,
    pid: i32,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    command: Vec<String>,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished: Option<String>,
    bundle: String,
}

fn containers(cli: &Cli, a: &PsArgs) -> Result<i32> {
    let mut rows = Vec::new();
    for id in container::list_ids(&cli.root)? {
        let dir = cli.root.join(&id);
        // Read without the lock: a container being created or deleted is skipped, never waited for.
        let Ok(state) = container::read_state(&dir) else {
            continue;
        };
        let status = container::derive_status(&dir, &state);
        if status == Status::Stopped && !a.all {
            continue;
        }
        let exit = (status == Status::Stopped)
            .then(|| monitor::read_exit_record(&dir))
            .flatten();
        rows.push(Row {
            pid: if status == Status::Stopped {
                0
            } else {
                state.pid
            },
            status: status.as_str(),
            exit_code: exit.as_ref().map(|e| e.exit_code),
            command: command_of(&dir),
            finished: exit.map(|e| e.finished_at),
            created: state.created.clone(),
            started: matches!(status, Status::Running | Status::Paused)
                .then(|| container::started_at(&dir))
                .flatten()
                .map(|t| humantime::format_rfc3339_nanos(t).to_string()),
            bundle: state.bundle.display().to_string(),
            id: state.id,
        });
    }
    rows.sort_by(|x, y| y.created.cmp(&x.created));
    if a.quiet {
        for r in &rows {
            println!("{}", r.id);
        }
        return Ok(0);
    }
    if a.format == ListFormat::Json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(0);
    }
    let now = SystemTime::now();
    let mut table = vec![["ID", "PID", "STATUS", "COMMAND", "CREATED", "BUNDLE"]
        .map(String::from)
        .to_vec()];
    for r in &rows {
        table.push(vec![
            r.id.clone(),
            if r.pid == 0 {
                "-".into()
            } else {
                r.pid.to_string()
            },
            status_text(r, now),
            command_text(&r.command),
            format!("{} ago", since(&r.created, now)),
            r.bundle.clone(),
        ]);
    }
    print!("{}", super::list::format_table(&table));
    Ok(0)
}

/// The process args from the config recorded at create (empty when unreadable).
fn command_of(dir: &std::path::Path) -> Vec<String> {
    let text = std::fs::read(dir.join(container::CONFIG_COPY)).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
    v["process"]["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// docker's STATUS column: "Created", "Up 5 minutes", "Up 2 hours (Paused)", "Exited (0) 3 seconds ago".
fn status_text(r: &Row, now: SystemTime) -> String {
    let up = || {
        format!(
            "Up {}",
            since(r.started.as_deref().unwrap_or(&r.created), now)
        )
    };
    match r.status {
        "created" => "Created".into(),
        "running" => up(),
        "paused" => format!("{} (Paused)", up()),
        _ => match (r.exit_code, &r.finished) {
            (Some(code), Some(t)) => format!("Exited ({code}) {} ago", since(t, now)),
            // No monitor saw it end (created by containerd, or the monitor was killed).
            _ => "Stopped".into(),
        },
    }
}

fn since(rfc3339: &str, now: SystemTime) -> String {
    match humantime::parse_rfc3339(rfc3339) {
        Ok(t) => human_duration(now.duration_since(t).unwrap_or_default()),
        Err(_) => "a while".into(),
    }
}

/// The command quoted and cut to a table-friendly width, as docker shows it.
fn command_text(args: &[String]) -> String {
    let full = args.join(" ");
    let cut: String = full.chars().take(28).collect();
    if cut.len() < full.len() {
        format!("\"{cut}…\"")
    } else {
        format!("\"{full}\"")
    }
}

/// A duration in words, the way docker writes "Up ..." and "... ago".
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match s {
        0 => "Less than a second".into(),
        1..=59 => plural(s, "second"),
        60..=119 => "About a minute".into(),
        120..=3599 => plural(s / 60, "minute"),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => plural(s / 3600, "hour"),
        172_800..=1_209_599 => plural(s / 86_400, "day"),
        1_209_600..=5_183_999 => plural(s / 604_800, "week"),
        5_184_000..=63_071_999 => plural(s / 2_592_000, "month"),
        _ => plural(s / 31_536_000, "year"),
    }
}

/// Keep the header and the lines whose PID column is one of `pids`.
pub fn filter_ps(output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or("");
    let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
        bail!("ps output has no PID column (pass options that print one, e.g. -ef)");
    };
    let mut out = format!("{header}\n");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_header_and_matching_pids() {
        let ps = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 421 1 other\n";
        assert_eq!(
            filter_ps(ps, &[42]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sleep\n"
        );
        assert!(filter_ps("A B\n1 2\n", &[1]).is_err());
    }

    #[test]
    fn durations_in_words() {
        let d = Duration::from_secs;
        assert_eq!(human_duration(d(0)), "Less than a second");
        assert_eq!(human_duration(d(1)), "1 second");
        assert_eq!(human_duration(d(59)), "59 seconds");
        assert_eq!(human_duration(d(61)), "About a minute");
        assert_eq!(human_duration(d(300)), "5 minutes");
        assert_eq!(human_duration(d(3700)), "About an hour");
        assert_eq!(human_duration(d(3 * 86_400)), "3 days");
        assert_eq!(human_duration(d(3 * 604_800)), "3 weeks");
    }

    #[test]
    fn long_commands_are_cut() {
        assert_eq!(command_text(&["sh".into()]), "\"sh\"");
        let long: Vec<String> = vec!["sh".into(), "-c".into(), "x".repeat(40)];
        let t = command_text(&long);
        assert!(t.ends_with("…\"") && t.chars().count() == 31, "{t}");
    }
}
