//! `brig list`: every container under the root, as runc's table or JSON.

use crate::cli::{Cli, ListArgs, ListFormat};
use crate::container::{self, State};
use anyhow::Result;

pub fn run(cli: &Cli, a: &ListArgs) -> Result<i32> {
    let mut rows: Vec<(State, container::Status)> = Vec::new();
    for id in container::list_ids(&cli.root)? {
        let dir = cli.root.join(&id);
        // Read without the lock: a container being created or deleted is skipped, never waited for.
        if let Ok(state) = container::read_state(&dir) {
            let status = container::derive_status(&dir, &state);
            rows.push((state, status));
        }
    }
    if a.quiet {
        for (s, _) in &rows {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match a.format {
        ListFormat::Json => {
            let list: Vec<_> = rows.iter().map(|(s, st)| s.oci(*st)).collect();
            println!("{}", serde_json::to_string(&list)?);
        }
        ListFormat::Table => {
            let mut table = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for (s, st) in &rows {
                let pid = if *st == container::Status::Stopped {
                    0
                } else {
                    s.pid
                };
                table.push(vec![
                    s.id.clone(),
                    pid.to_string(),
                    st.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    "root".to_string(),
                ]);
            }
            print!("{}", format_table(&table));
        }
    }
    Ok(0)
}

/// Columns padded like Go's tabwriter as runc sets it up (min width 12, padding 3).
pub fn format_table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, |r| r.len());
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == cols {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_like_runc() {
        let t = format_table(&[
            vec!["ID".into(), "PID".into(), "OWNER".into()],
            vec!["s-runc".into(), "19213".into(), "root".into()],
        ]);
        assert_eq!(
            t,
            "ID          PID         OWNER\ns-runc      19213       root\n"
        );
    }
}
