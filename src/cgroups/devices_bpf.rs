//! cgroup v2 has no devices.allow: access to device nodes is decided by a BPF_PROG_TYPE_CGROUP_DEVICE program
//! attached to the cgroup (what runc and crun do). The program is generated from the same ordered rule list
//! v1 writes (`device_rules`), checked last rule first so the last matching rule wins, as on v1.

use super::DeviceRule;
use anyhow::{bail, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// Opcodes (linux/bpf.h, linux/bpf_common.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JMP_JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }: access_type is type | access << 16.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |acc, c| {
        acc | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

/// The program for `rules`: r2 = device type, r3 = requested access, r4 = major, r5 = minor; then one block
/// per rule, last rule first, each returning 1 (allow) or 0 (deny) when it matches; nothing matches: deny.
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let mut checks: Vec<Insn> = Vec::new();
        match rule.typ {
            'b' => checks.push(insn(JMP_JNE_K, 2, 0, 0, DEV_BLOCK)),
            'c' => checks.push(insn(JMP_JNE_K, 2, 0, 0, DEV_CHAR)),
            _ => {}
        }
        let allowed = access_bits(&rule.access);
        if allowed != ACC_READ | ACC_WRITE | ACC_MKNOD {
            // Match only if every requested bit is in the rule: (r3 & allowed) == r3.
            checks.push(insn(ALU32_MOV_X, 6, 3, 0, 0));
            checks.push(insn(ALU32_AND_K, 6, 0, 0, allowed));
            checks.push(insn(JMP_JNE_X, 6, 3, 0, 0));
        }
        if let Some(major) = rule.major {
            checks.push(insn(JMP_JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            checks.push(insn(JMP_JNE_K, 5, 0, 0, minor as i32));
        }
        // Every jump skips to the end of this rule's block (past its own return).
        let n = checks.len();
        for (i, c) in checks.iter_mut().enumerate() {
            if c.code == JMP_JNE_K || c.code == JMP_JNE_X {
                c.off = (n - i - 1 + 2) as i16;
            }
        }
        let matches_all = checks.is_empty();
        p.extend(checks);
        p.push(insn(ALU64_MOV_K, 0, 0, 0, rule.allow as i32));
        p.push(insn(JMP_EXIT, 0, 0, 0, 0));
        if matches_all {
            // Nothing after a rule that matches everything can run, and the verifier refuses dead code.
            return p;
        }
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

fn bpf(cmd: libc::c_long, attr: &mut [u8; 128]) -> std::io::Result<i64> {
    // SAFETY: bpf(2) with a zero-padded attribute buffer larger than any version of the union we fill.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(r)
}

/// Load the program for `rules` and attach it to the cgroup directory `dir`.
pub fn attach(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_ATTACH: libc::c_long = 8;
    const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
    const BPF_CGROUP_DEVICE: u32 = 6;
    const BPF_F_ALLOW_MULTI: u32 = 2;
    let insns = program(rules);
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 65536];
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_CGROUP_DEVICE.to_ne_bytes());
    attr[4..8].copy_from_slice(&(insns.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[24..28].copy_from_slice(&1u32.to_ne_bytes()); // log_level
    attr[28..32].copy_from_slice(&(log.len() as u32).to_ne_bytes());
    attr[32..40].copy_from_slice(&(log.as_mut_ptr() as u64).to_ne_bytes());
    let prog = match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: a new fd returned by the kernel.
        Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd as i32) },
        Err(e) => {
            let text = String::from_utf8_lossy(&log);
            bail!(
                "linux.resources.devices: cannot load the cgroup v2 device filter: {e}: {}",
                text.trim_end_matches('\0').trim()
            );
        }
    };
    let cgroup = std::fs::File::open(dir).map_err(|e| {
        anyhow::anyhow!(
            "linux.resources.devices: cannot open {}: {e}",
            dir.display()
        )
    })?;
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&(cgroup.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog.as_raw_fd() as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&BPF_CGROUP_DEVICE.to_ne_bytes());
    attr[12..16].copy_from_slice(&BPF_F_ALLOW_MULTI.to_ne_bytes());
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| {
        anyhow::anyhow!(
            "linux.resources.devices: cannot attach the device filter to {}: {e}",
            dir.display()
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        typ: char,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            typ,
            major,
            minor,
            access: access.into(),
        }
    }

    /// Run the program on a device access, as the kernel would: a tiny interpreter for the opcodes used.
    fn eval(p: &[Insn], typ: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [(typ | access << 16) as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = ctx[i.off as usize / 4] as u64,
                ALU32_AND_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                ALU32_RSH_K => r[dst] = (r[dst] as u32 >> i.imm) as u64,
                ALU32_MOV_X => r[dst] = r[src] as u32 as u64,
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                JMP_JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JNE_X if r[dst] != r[src] => pc += i.off as usize,
                JMP_JNE_K | JMP_JNE_X => {}
                JMP_EXIT => return r[0],
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn last_matching_rule_wins() {
        let rules = vec![
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(true, 'c', Some(136), None, "rw"),
            rule(false, 'c', Some(1), Some(3), "w"),
            rule(true, 'b', Some(8), None, "r"),
        ];
        let p = program(&rules);
        assert_eq!(
            eval(&p, DEV_CHAR, ACC_READ, 1, 3),
            1,
            "/dev/null read allowed"
        );
        assert_eq!(
            eval(&p, DEV_CHAR, ACC_WRITE, 1, 3),
            0,
            "/dev/null write denied by the later rule"
        );
        assert_eq!(
            eval(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 136, 7),
            1,
            "any pts"
        );
        assert_eq!(
            eval(&p, DEV_CHAR, ACC_MKNOD, 136, 7),
            0,
            "rw does not include mknod"
        );
        assert_eq!(eval(&p, DEV_BLOCK, ACC_READ, 8, 0), 1);
        assert_eq!(eval(&p, DEV_BLOCK, ACC_WRITE, 8, 0), 0);
        assert_eq!(
            eval(&p, DEV_CHAR, ACC_READ, 1, 11),
            0,
            "kmsg falls to deny-all"
        );
        assert_eq!(eval(&p, DEV_CHAR, ACC_READ, 8, 0), 0, "type matters");
        // The deny-all rule, checked last, ends the program: no unreachable code after it.
        assert_eq!(p[p.len() - 2], insn(ALU64_MOV_K, 0, 0, 0, 0));
        let only_allow_all = program(&[rule(true, 'a', None, None, "rwm")]);
        assert_eq!(only_allow_all.len(), 8, "{only_allow_all:?}");
    }

    #[test]
    fn default_rules_allow_the_default_devices() {
        let rules = super::super::device_rules(&[]);
        let p = program(&rules);
        for (_, major, minor) in crate::rootfs::devices::DEFAULT_DEVICES {
            assert_eq!(
                eval(
                    &p,
                    DEV_CHAR,
                    ACC_READ | ACC_WRITE,
                    *major as u32,
                    *minor as u32
                ),
                1
            );
        }
        assert_eq!(
            eval(&p, DEV_CHAR, ACC_MKNOD, 250, 1),
            1,
            "mknod of any char device, as runc"
        );
        assert_eq!(eval(&p, DEV_CHAR, ACC_READ, 250, 1), 0);
    }
}
