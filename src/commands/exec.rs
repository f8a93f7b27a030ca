//! `brig exec`: the process comes from `--process FILE` (podman, containerd), or from the container's own
//! config process with CMD and the flags applied (as runc builds it).

use crate::cli::{Cli, ExecArgs};
use crate::container::{lifecycle, Container};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process};

pub fn run(cli: &Cli, a: &ExecArgs) -> Result<i32> {
    let c = Container::load(&cli.root, &a.id)?;
    let process = match &a.process {
        Some(path) => {
            if !a.command.is_empty() {
                bail!("exec: give either --process or a command, not both");
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--process {}: cannot read", path.display()))?;
            let p: Process = serde_json::from_str(&text).map_err(|e| {
                anyhow::anyhow!("--process {}: invalid process JSON: {e}", path.display())
            })?;
            if p.args().as_ref().is_none_or(|a| a.is_empty()) {
                bail!("--process {}: args must name a program", path.display());
            }
            p
        }
        None => from_flags(&c, a)?,
    };
    let mut process = process;
    if let Some(aa) = &a.apparmor {
        process.set_apparmor_profile(Some(aa.clone()));
    }
    let opts = lifecycle::ExecOptions {
        console_socket: a.console_socket.as_deref(),
        pid_file: a.pid_file.as_deref(),
        preserve_fds: a.preserve_fds,
        detach: a.detach,
    };
    lifecycle::exec(c, &process, &opts)
}

fn from_flags(c: &Container, a: &ExecArgs) -> Result<Process> {
    if a.command.is_empty() {
        bail!("exec: no command given (or use --process FILE)");
    }
    let spec = lifecycle::recorded_spec(&c.dir)?;
    let mut p = spec
        .process()
        .clone()
        .context("the container's config has no process")?;
    p.set_args(Some(a.command.clone()));
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let Some((k, _)) = kv.split_once('=') else {
            bail!("--env {kv:?}: expected KEY=VALUE")
        };
        env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        if !cwd.is_absolute() {
            bail!("--cwd {}: must be an absolute path", cwd.display());
        }
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = crate::security::user::resolve(
            std::path::Path::new(&format!("/proc/{}/root", c.state.pid)),
            "--user",
            u,
        )?;
        p.user_mut().set_uid(uid);
        p.user_mut().set_gid(gid);
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let upper = name.to_ascii_uppercase();
            let full = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            let cap: Capability =
                serde_json::from_value(serde_json::Value::String(full.clone()))
                    .map_err(|_| anyhow::anyhow!("--cap {name}: unknown capability"))?;
            add_cap(&mut caps, cap);
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    p.set_terminal(Some(a.tty));
    Ok(p)
}

/// runc adds an --cap to every set.
fn add_cap(caps: &mut LinuxCapabilities, cap: Capability) {
    let add = |set: &Option<Capabilities>| -> Option<Capabilities> {
        let mut s = set.clone().unwrap_or_default();
        s.insert(cap);
        Some(s)
    };
    let (b, e, p, i, a) = (
        add(caps.bounding()),
        add(caps.effective()),
        add(caps.permitted()),
        add(caps.inheritable()),
        add(caps.ambient()),
    );
    caps.set_bounding(b);
    caps.set_effective(e);
    caps.set_permitted(p);
    caps.set_inheritable(i);
    caps.set_ambient(a);
}
