//! Output: aligned tables for people, JSON for scripts, and per-item failures on stderr.

use std::fmt::Write as _;

use ferrokafka::Error;
use serde_json::Value;

use crate::Failure;

/// Prints `rows` under `header` as aligned columns, or `json` when asked for JSON.
pub(crate) fn emit(json_wanted: bool, header: &[&str], rows: &[Vec<String>], json: Value) {
    if json_wanted {
        println!("{json}");
        return;
    }
    print!("{}", table(header, rows));
}

/// Aligned columns, two spaces apart, header first.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            let _ = write!(text, "{cell:<width$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Reports per-item failures on stderr (`what item: error`) and turns any into
/// [`Failure::Refused`]; the successes were printed by the caller.
pub(crate) fn failures<'a, T: 'a>(
    items: impl IntoIterator<Item = (String, &'a Result<T, Error>)>,
) -> Result<(), Failure> {
    let mut failed = false;
    for (item, result) in items {
        if let Err(err) = result {
            eprintln!("ferrokafka: {item}: {err}");
            failed = true;
        }
    }
    if failed {
        Err(Failure::Refused)
    } else {
        Ok(())
    }
}

/// A per-item result as JSON: `{"ok": true}` or `{"error": "...", "code": "NAME"}`.
pub(crate) fn result_json<T>(result: &Result<T, Error>) -> Value {
    match result {
        Ok(_) => serde_json::json!({"ok": true}),
        Err(err) => serde_json::json!({
            "error": err.to_string(),
            "code": err.code().map(|c| format!("{c:?}")),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::table;

    #[test]
    fn columns_align_to_the_widest_cell() {
        let out = table(
            &["topic", "partitions"],
            &[
                vec!["a".into(), "1".into()],
                vec!["longer-name".into(), "12".into()],
            ],
        );
        assert_eq!(
            out,
            "topic        partitions\na            1\nlonger-name  12\n"
        );
    }
}
