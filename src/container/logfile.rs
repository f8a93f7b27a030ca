//! The log of a detached container: `container.log` holds its output as plain lines (stdout and stderr
//! interleaved as they arrived); `container.log.times` holds one `<RFC 3339 time> <stream>` line per log line,
//! written *before* the log line, so a reader that reads the times first always has the time of every line
//! it then reads. Only the monitor writes them; `logs` reads them, following while the container runs.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub const LOG: &str = "container.log";
pub const TIMES: &str = "container.log.times";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

pub struct LogWriter {
    log: File,
    times: File,
}

impl LogWriter {
    /// Open (appending) the log files of the container whose state directory is `dir`.
    pub fn open(dir: &Path) -> Result<LogWriter> {
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o640)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(dir.join(name))
                .with_context(|| format!("cannot open {}", dir.join(name).display()))
        };
        Ok(LogWriter {
            log: open(LOG)?,
            times: open(TIMES)?,
        })
    }

    pub fn raw_fds(&self) -> [std::os::fd::RawFd; 2] {
        use std::os::fd::AsRawFd;
        [self.log.as_raw_fd(), self.times.as_raw_fd()]
    }

    /// Append one line, ending in exactly one `\n` (a terminal's CR LF becomes LF; a missing newline is added).
    pub fn line(&mut self, stream: Stream, line: &[u8]) -> std::io::Result<()> {
        let name = match stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        writeln!(self.times, "{} {name}", super::now_rfc3339())?;
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let mut l = Vec::with_capacity(body.len() + 1);
        l.extend_from_slice(body);
        l.push(b'\n');
        self.log.write_all(&l)
    }
}

/// Take the first complete line (with its newline) off the front of `buf`.
pub fn take_line(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    Some(buf.drain(..=end).collect())
}

/// One line of a container's log.
pub struct LogLine {
    /// When the monitor received it (RFC 3339), if the times file has it.
    pub time: Option<String>,
    pub stream: Stream,
    /// The line with its newline.
    pub text: Vec<u8>,
}

/// Reads a container's log incrementally: complete lines only, each with its time when asked.
pub struct LogReader {
    log: File,
    times: Option<File>,
    log_buf: Vec<u8>,
    times_buf: Vec<u8>,
}

impl LogReader {
    /// None when the container has no log (it was not started by `run -d`).
    pub fn open(dir: &Path) -> Result<Option<LogReader>> {
        let log = match File::open(dir.join(LOG)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open {}", dir.join(LOG).display()))
            }
        };
        Ok(Some(LogReader {
            log,
            times: File::open(dir.join(TIMES)).ok(),
            log_buf: Vec::new(),
            times_buf: Vec::new(),
        }))
    }

    /// The complete lines written since the last call, each with its time (when the times file has it).
    pub fn next_lines(&mut self) -> Result<Vec<LogLine>> {
        // Times first: every log line read below then has its time already.
        if let Some(t) = &mut self.times {
            t.read_to_end(&mut self.times_buf)?;
        }
        self.log.read_to_end(&mut self.log_buf)?;
        let mut out = Vec::new();
        while let Some(text) = take_line(&mut self.log_buf) {
            let (mut time, mut stream) = (None, Stream::Stdout);
            if let Some(t) = take_line(&mut self.times_buf) {
                let t = String::from_utf8_lossy(&t);
                let mut fields = t.split_whitespace();
                time = fields.next().map(str::to_string);
                if fields.next() == Some("stderr") {
                    stream = Stream::Stderr;
                }
            }
            out.push(LogLine { time, stream, text });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_back_with_their_times_and_partial_lines_wait() {
        let dir = std::env::temp_dir().join(format!("brig-logfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = LogWriter::open(&dir).unwrap();
        w.line(Stream::Stdout, b"one\n").unwrap();
        w.line(Stream::Stderr, b"two").unwrap();
        let mut r = LogReader::open(&dir).unwrap().unwrap();
        let lines = r.next_lines().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, b"one\n");
        assert_eq!(lines[1].text, b"two\n");
        assert_eq!(
            (lines[0].stream, lines[1].stream),
            (Stream::Stdout, Stream::Stderr)
        );
        assert!(lines[0].time.as_deref().unwrap().ends_with('Z'));
        // A line half written by the monitor is not returned until it is complete.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(LOG))
            .unwrap()
            .write_all(b"thr")
            .unwrap();
        assert!(r.next_lines().unwrap().is_empty());
        w.line(Stream::Stdout, b"ee\n").unwrap();
        let more = r.next_lines().unwrap();
        assert_eq!(more[0].text, b"three\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
