//! Resource usage for `events`, in runc's JSON shape (`{"type":"stats","id":..,"data":{cpu,memory,pids,...}}`),
//! read from v1 or v2 files, and the OOM-kill counter behind `{"type":"oom"}` events.

use super::CgroupPlace;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

fn num(p: &Path) -> u64 {
    read(p).and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// `max` (v2) and v1's huge "unlimited" both read as u64::MAX / the v1 value.
fn limit(p: &Path) -> u64 {
    match read(p) {
        Some(s) if s.trim() == "max" => u64::MAX,
        Some(s) => s.trim().parse().unwrap_or(0),
        None => 0,
    }
}

/// `key value` lines (memory.stat, cpu.stat, memory.events) as a map.
fn keyed(p: &Path) -> Map<String, Value> {
    read(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), json!(v.trim().parse::<u64>().ok()?)))
        })
        .collect()
}

fn dir_with(place: &CgroupPlace, file: &str) -> Option<PathBuf> {
    place.dirs.iter().find(|d| d.join(file).exists()).cloned()
}

pub fn stats(place: &CgroupPlace) -> Value {
    if place.v2 {
        stats_v2(&place.dirs[0])
    } else {
        stats_v1(place)
    }
}

fn stats_v1(place: &CgroupPlace) -> Value {
    let mut data = json!({"cpu": {"usage": {}, "throttling": {}}, "memory": {}, "pids": {}, "blkio": {}, "hugetlb": {}});
    if let Some(d) = dir_with(place, "cpuacct.usage") {
        let percpu: Vec<u64> = read(&d.join("cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let st = keyed(&d.join("cpuacct.stat"));
        // cpuacct.stat is in USER_HZ ticks; runc reports nanoseconds.
        let ticks = |k: &str| st.get(k).and_then(|v| v.as_u64()).unwrap_or(0) * 10_000_000;
        data["cpu"]["usage"] = json!({
            "total": num(&d.join("cpuacct.usage")), "percpu": percpu,
            "kernel": ticks("system"), "user": ticks("user")
        });
    }
    if let Some(d) = dir_with(place, "cpu.stat") {
        let st = keyed(&d.join("cpu.stat"));
        data["cpu"]["throttling"] = json!({
            "periods": st.get("nr_periods"), "throttled_periods": st.get("nr_throttled"),
            "throttled_time": st.get("throttled_time")
        });
    }
    if let Some(d) = dir_with(place, "memory.usage_in_bytes") {
        let entry = |prefix: &str| {
            json!({
                "limit": limit(&d.join(format!("{prefix}.limit_in_bytes"))),
                "usage": num(&d.join(format!("{prefix}.usage_in_bytes"))),
                "max": num(&d.join(format!("{prefix}.max_usage_in_bytes"))),
                "failcnt": num(&d.join(format!("{prefix}.failcnt"))),
            })
        };
        data["memory"] = json!({
            "usage": entry("memory"), "swap": entry("memory.memsw"), "kernel": entry("memory.kmem"),
            "raw": keyed(&d.join("memory.stat"))
        });
    }
    if let Some(d) = dir_with(place, "pids.current") {
        data["pids"] =
            json!({"current": num(&d.join("pids.current")), "limit": limit(&d.join("pids.max"))});
    }
    if let Some(d) = dir_with(place, "blkio.throttle.io_service_bytes") {
        data["blkio"] = json!({"ioServiceBytesRecursive": blkio_entries(&d.join("blkio.throttle.io_service_bytes"))});
    }
    data
}

/// `8:0 Read 1234` lines.
fn blkio_entries(p: &Path) -> Vec<Value> {
    read(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 3 {
                return None;
            }
            let (maj, min) = f[0].split_once(':')?;
            let (major, minor, value) = (
                maj.parse::<u64>().ok()?,
                min.parse::<u64>().ok()?,
                f[2].parse::<u64>().ok()?,
            );
            Some(json!({"major": major, "minor": minor, "op": f[1], "value": value}))
        })
        .collect()
}

fn stats_v2(d: &Path) -> Value {
    let cpu = keyed(&d.join("cpu.stat"));
    let get = |m: &Map<String, Value>, k: &str| m.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    json!({
        "cpu": {
            "usage": {"total": get(&cpu, "usage_usec") * 1000, "kernel": get(&cpu, "system_usec") * 1000,
                      "user": get(&cpu, "user_usec") * 1000},
            "throttling": {"periods": get(&cpu, "nr_periods"), "throttled_periods": get(&cpu, "nr_throttled"),
                           "throttled_time": get(&cpu, "throttled_usec") * 1000}
        },
        "memory": {
            "usage": {"limit": limit(&d.join("memory.max")), "usage": num(&d.join("memory.current")),
                      "max": num(&d.join("memory.peak"))},
            "swap": {"limit": limit(&d.join("memory.swap.max")), "usage": num(&d.join("memory.swap.current"))},
            "raw": keyed(&d.join("memory.stat"))
        },
        "pids": {"current": num(&d.join("pids.current")), "limit": limit(&d.join("pids.max"))},
        "blkio": {},
        "hugetlb": {}
    })
}

/// How many times the OOM killer has killed in this cgroup.
pub fn oom_kills(place: &CgroupPlace) -> u64 {
    let (file, key) = if place.v2 {
        ("memory.events", "oom_kill")
    } else {
        ("memory.oom_control", "oom_kill")
    };
    dir_with(place, file)
        .map(|d| keyed(&d.join(file)))
        .and_then(|m| m.get(key).and_then(|v| v.as_u64()))
        .unwrap_or(0)
}
