//! `process.rlimits`: resolved to resource numbers before the fork, applied in the init before the user change
//! (raising a hard limit needs CAP_SYS_RESOURCE).

use anyhow::{bail, Result};
use oci_spec::runtime::PosixRlimit;

#[derive(Clone, Copy, Debug)]
pub struct Rlimit {
    pub resource: libc::__rlimit_resource_t,
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

const NAMES: &[(&str, libc::__rlimit_resource_t)] = &[
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
];

pub fn from_spec(list: &[PosixRlimit]) -> Result<Vec<Rlimit>> {
    let mut out: Vec<Rlimit> = Vec::new();
    for r in list {
        let typ = r.typ().to_string();
        let Some(&(name, resource)) = NAMES.iter().find(|n| n.0 == typ) else {
            bail!("process.rlimits: unknown type {typ}");
        };
        if r.soft() > r.hard() {
            bail!(
                "process.rlimits {name}: soft limit {} is above hard limit {}",
                r.soft(),
                r.hard()
            );
        }
        if out.iter().any(|o| o.resource == resource) {
            bail!("process.rlimits: {name} is listed twice");
        }
        out.push(Rlimit {
            resource,
            name,
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    Ok(out)
}

pub fn apply(limits: &[Rlimit]) -> Result<()> {
    for l in limits {
        let lim = libc::rlimit {
            rlim_cur: l.soft,
            rlim_max: l.hard,
        };
        // SAFETY: setrlimit with a valid struct.
        if unsafe { libc::setrlimit(l.resource, &lim) } != 0 {
            let e = std::io::Error::last_os_error();
            bail!(
                "error setting rlimit {} ({}:{}): {}",
                l.name,
                l.soft,
                l.hard,
                crate::hooks::lower(&e)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<Vec<Rlimit>> {
        let list: Vec<PosixRlimit> = serde_json::from_value(v).unwrap();
        from_spec(&list)
    }

    #[test]
    fn conversion_and_checks() {
        let r =
            parse(serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}])).unwrap();
        assert_eq!(r[0].resource, libc::RLIMIT_NOFILE);
        assert!(
            parse(serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 30, "hard": 20}])).is_err()
        );
        let twice = serde_json::json!([{"type": "RLIMIT_CORE", "soft": 1, "hard": 1}, {"type": "RLIMIT_CORE", "soft": 1, "hard": 1}]);
        assert!(parse(twice).unwrap_err().to_string().contains("twice"));
    }
}
