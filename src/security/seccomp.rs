//! `linux.seccomp` through libseccomp (what runc, crun and youki use). The filter is built in brig before the
//! clone (the rule translation is the costly part) and only loaded by the init or exec'd process: last, right
//! before execve, when noNewPrivileges is set; otherwise before the capabilities are dropped, because loading a
//! filter without no_new_privs needs CAP_SYS_ADMIN (runc's order).

use anyhow::{bail, Context, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag};
use std::str::FromStr;

/// The JSON name of a spec enum value (`SCMP_ACT_ERRNO`, `SCMP_ARCH_X86_64`, ...).
fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn action(
    a: LinuxSeccompAction,
    errno: Option<u32>,
    field: &str,
    listener: bool,
) -> Result<ScmpAction> {
    let n = name(&a);
    let value = match n.as_str() {
        // EPERM when the config gives no errno (as runc).
        "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE" => Some(errno.unwrap_or(libc::EPERM as u32) as i32),
        _ => None,
    };
    if n == "SCMP_ACT_NOTIFY" && !listener {
        bail!("{field}: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (a process to hand the notifications to)");
    }
    ScmpAction::from_str(&n, value).map_err(|e| anyhow::anyhow!("{field}: action {n}: {e}"))
}

/// Translate the config into a libseccomp filter. Unknown syscall names are skipped (as runc: profiles list
/// syscalls of newer kernels and other architectures).
pub fn build(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let listener = s
        .listener_path()
        .as_ref()
        .is_some_and(|p| !p.as_os_str().is_empty());
    let default = action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultAction",
        listener,
    )?;
    let mut ctx =
        ScmpFilterContext::new(default).context("linux.seccomp: cannot create a filter")?;
    // brig sets no_new_privs itself, when the config asks for it.
    ctx.set_ctl_nnp(false)?;
    for arch in s.architectures().iter().flatten() {
        let n = name(arch);
        let a = ScmpArch::from_str(&n)
            .map_err(|_| anyhow::anyhow!("linux.seccomp.architectures: unknown {n}"))?;
        // The native architecture is already in the filter: adding it again is an error to ignore.
        let _ = ctx.add_arch(a);
    }
    for flag in s.flags().iter().flatten() {
        match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => {
                ctx.set_ctl_log(true)?;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                ctx.set_ctl_ssb(true)?;
            }
            // Synchronising threads is what loading does for a single-threaded process anyway.
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => {}
            other => bail!("linux.seccomp.flags: {} is not supported", name(other)),
        }
    }
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(rule.action(), rule.errno_ret(), &field, listener)?;
        // libseccomp refuses a rule whose action is the default one; it would change nothing anyway.
        if act == default {
            continue;
        }
        let mut conditions = Vec::new();
        for arg in rule.args().iter().flatten() {
            let op_name = name(&arg.op());
            let op = match op_name.as_str() {
                "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(arg.value()),
                n => ScmpCompareOp::from_str(n)
                    .map_err(|_| anyhow::anyhow!("{field}: unknown operator {n}"))?,
            };
            let datum = if op_name == "SCMP_CMP_MASKED_EQ" {
                arg.value_two().unwrap_or(0)
            } else {
                arg.value()
            };
            conditions.push(ScmpArgCompare::new(arg.index() as u32, op, datum));
        }
        // Several conditions on one argument cannot share a rule: then each becomes a rule of its own (runc).
        let mut indexes: Vec<usize> = rule.args().iter().flatten().map(|a| a.index()).collect();
        indexes.sort_unstable();
        let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
        for syscall_name in rule.names() {
            let Ok(sys) = ScmpSyscall::from_name(syscall_name) else {
                continue;
            };
            let added = if conditions.is_empty() {
                ctx.add_rule(act, sys)
            } else if repeated {
                conditions
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, sys, &[*c]).map(|_| ()))
                    .map(|_| &mut ctx)
            } else {
                ctx.add_rule_conditional(act, sys, &conditions)
            };
            added.map_err(|e| anyhow::anyhow!("{field}: cannot add {syscall_name}: {e}"))?;
        }
    }
    Ok(ctx)
}

/// Install the filter in this process (the init or exec'd process, just before execve). With SCMP_ACT_NOTIFY
/// rules the kernel hands out a listener fd, returned here for brig to pass on to `listenerPath`.
pub fn load(ctx: &ScmpFilterContext, listener: bool) -> Result<Option<std::os::fd::OwnedFd>> {
    ctx.load()
        .map_err(|e| anyhow::anyhow!("cannot load the seccomp filter: {e}"))?;
    if !listener {
        return Ok(None);
    }
    let fd = ctx
        .get_notify_fd()
        .map_err(|e| anyhow::anyhow!("cannot get the seccomp notify fd: {e}"))?;
    // SAFETY: the fd libseccomp just received from the kernel; it is ours to own and close.
    Ok(Some(unsafe {
        <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
    }))
}

/// The container process state the runtime spec says goes to `listenerPath` with the notify fd.
pub fn listener_message(pid: i32, metadata: &str, state: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ociVersion": crate::container::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": metadata,
        "state": state
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn builds_with_unknown_names_skipped() {
        let s = parse(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["mkdir", "no_such_syscall_xyz"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}, {"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }));
        build(&s).unwrap();
    }

    #[test]
    fn notify_needs_a_listener() {
        let mut v = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
        let e = build(&parse(v.clone())).err().unwrap().to_string();
        assert!(
            e.contains("linux.seccomp.syscalls[0]") && e.contains("listenerPath"),
            "{e}"
        );
        v["listenerPath"] = "/run/listener.sock".into();
        build(&parse(v)).unwrap();
    }
}
