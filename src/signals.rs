//! Signal names and numbers as `kill` accepts them: `9`, `KILL`, `SIGKILL` (any case), `RTMIN+3`.

use anyhow::{bail, Result};
use nix::sys::signal::Signal;
use std::str::FromStr;

/// Parse a signal into its number.
pub fn parse(raw: &str) -> Result<i32> {
    let bad = || anyhow::anyhow!("unknown signal {raw:?}");
    if let Ok(n) = raw.parse::<i32>() {
        if (1..=libc::SIGRTMAX()).contains(&n) {
            return Ok(n);
        }
        return Err(bad());
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(off) = name.strip_prefix("RTMIN") {
        let n = if off.is_empty() {
            0
        } else {
            off.strip_prefix('+')
                .and_then(|o| o.parse().ok())
                .ok_or_else(bad)?
        };
        let sig = libc::SIGRTMIN() + n;
        if sig > libc::SIGRTMAX() {
            bail!("unknown signal {raw:?}");
        }
        return Ok(sig);
    }
    Signal::from_str(&format!("SIG{name}"))
        .map(|s| s as i32)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGKILL").unwrap(), 9);
        assert_eq!(parse("sigterm").unwrap(), 15);
        assert_eq!(parse("hup").unwrap(), 1);
        assert_eq!(parse("RTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        for bad in ["0", "65", "-1", "FOO", "SIG", "", "RTMIN+99"] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
    }
}
