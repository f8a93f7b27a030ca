//! brig's own log (`--log FILE --log-format text|json`), written the way runc's logrus writes it, because
//! containerd's shim and conmon read the last `"level":"error"` record of that file to report a failure.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use crate::cli::LogFormat;

struct Sink {
    file: File,
    format: LogFormat,
    debug: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Open (create, append) the log file. It is created even when nothing goes wrong: the shim opens it after
/// any failure and a missing file hides the real error.
pub fn init(path: &Path, format: LogFormat, debug: bool) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let _ = SINK.set(Sink {
        file,
        format,
        debug,
    });
    Ok(())
}

/// The log file's descriptor (-1 without --log), kept open in the init until exec.
pub fn raw_fd() -> i32 {
    use std::os::fd::AsRawFd;
    SINK.get().map_or(-1, |s| s.file.as_raw_fd())
}

pub fn error(msg: &str) {
    write("error", msg);
}

pub fn warn(msg: &str) {
    write("warning", msg);
    if SINK.get().is_none() {
        eprintln!("brig: warning: {msg}");
    }
}

/// A warning for the --log file only: used where stderr belongs to the container.
pub fn warn_to_log(msg: &str) {
    write("warning", msg);
}

pub fn debug(msg: &str) {
    if SINK.get().is_some_and(|s| s.debug) {
        write("debug", msg);
    }
}

fn write(level: &str, msg: &str) {
    let Some(sink) = SINK.get() else { return };
    let line = format_record(sink.format, level, msg, &now());
    // One write per record so concurrent writers (exec and create on one file) never interleave a line.
    let _ = (&sink.file).write_all(line.as_bytes());
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn format_record(format: LogFormat, level: &str, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => {
            let v = serde_json::json!({"level": level, "msg": msg, "time": time});
            format!("{v}\n")
        }
        LogFormat::Text => {
            let quoted = serde_json::to_string(msg).unwrap_or_default();
            format!("time=\"{time}\" level={level} msg={quoted}\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_record_is_one_object_per_line() {
        let rec = format_record(
            LogFormat::Json,
            "error",
            "a \"quoted\"\nmsg",
            "2026-01-01T00:00:00Z",
        );
        assert!(rec.ends_with('\n'));
        assert_eq!(rec.matches('\n').count(), 1);
        let v: serde_json::Value = serde_json::from_str(rec.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "a \"quoted\"\nmsg");
        assert_eq!(v["time"], "2026-01-01T00:00:00Z");
    }

    #[test]
    fn text_record_looks_like_logrus() {
        let rec = format_record(LogFormat::Text, "error", "container x does not exist", "T");
        assert_eq!(
            rec,
            "time=\"T\" level=error msg=\"container x does not exist\"\n"
        );
    }
}
