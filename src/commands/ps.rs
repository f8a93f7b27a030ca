//! `brig ps ID`: runc's meaning, the processes of one container. JSON is a bare array of host pids (the
//! containerd shim parses it from combined stdout+stderr, so nothing else may be printed); the table is
//! ps(1)'s output cut down to the container's processes.

use crate::cli::{Cli, ListFormat, PsArgs};
use crate::container::{lifecycle, Container};
use anyhow::{bail, Context, Result};

pub fn run(cli: &Cli, a: &PsArgs) -> Result<i32> {
    let c = Container::load(&cli.root, &a.id)?;
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
}
