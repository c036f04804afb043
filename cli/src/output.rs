//! How an answer is printed: JSON, pretty on a terminal and compact when piped (one line,
//! for `jq` and scripts), or a table of the answer's list (`-o table`).

use std::io::{IsTerminal, Write};

use clap::ArgMatches;
use comfy_table::{ContentArrangement, Table};
use serde_json::{Map, Value};

use crate::exit::Failure;

/// A cell's longest text; longer values are cut with `…`.
const CELL: usize = 48;

/// Prints one line on stdout and flushes it (a `println!` that fails instead of
/// panicking when stdout's reader has gone away: `sync | head -1`).
pub fn line(text: impl std::fmt::Display) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").and_then(|()| stdout.flush())?;
    Ok(())
}

/// Prints `answer` on stdout in the format `--output` asks for.
pub fn print(answer: &Value, global: &ArgMatches) -> Result<(), Failure> {
    let format = global.get_one::<String>("output").map(String::as_str);
    let text = render(answer, format, std::io::stdout().is_terminal());
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").and_then(|()| stdout.flush())?;
    Ok(())
}

/// The text of `answer`: `format` as `--output` gives it, `None` choosing by whether
/// stdout is a terminal.
pub fn render(answer: &Value, format: Option<&str>, terminal: bool) -> String {
    match (format, terminal) {
        (Some("table"), _) => table(answer).unwrap_or_else(|| pretty(answer)),
        (Some("compact"), _) | (None, false) => answer.to_string(),
        _ => pretty(answer),
    }
}

fn pretty(answer: &Value) -> String {
    serde_json::to_string_pretty(answer).unwrap_or_else(|_| answer.to_string())
}

/// A table of the answer's list of objects (the answer itself, or its first field that
/// is one); columns are the scalar fields of the first item. `None` when the answer
/// holds no such list.
fn table(answer: &Value) -> Option<String> {
    let items = list(answer)?;
    let first = items.iter().find_map(Value::as_object)?;
    let columns: Vec<&String> = first
        .iter()
        .filter(|(_, v)| !v.is_object() && !v.is_array())
        .map(|(k, _)| k)
        .collect();
    let mut table = Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.iter().map(|c| c.as_str()));
    for item in items.iter().filter_map(Value::as_object) {
        table.add_row(columns.iter().map(|c| cell(item, c)));
    }
    Some(table.to_string())
}

fn list(answer: &Value) -> Option<&Vec<Value>> {
    let is_list = |v: &&Value| v.as_array().is_some_and(|a| a.iter().any(Value::is_object));
    match answer {
        Value::Array(_) => Some(answer).filter(is_list)?.as_array(),
        Value::Object(map) => map.values().find(is_list)?.as_array(),
        _ => None,
    }
}

fn cell(item: &Map<String, Value>, column: &str) -> String {
    let text = match item.get(column) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let one_line = crate::exit::printable(&text.split_whitespace().collect::<Vec<_>>().join(" "));
    if one_line.chars().count() > CELL {
        one_line.chars().take(CELL - 1).chain(['…']).collect()
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_pretty_on_a_terminal_and_one_line_when_piped() {
        // One key: serde_json's key order depends on its features in the workspace.
        let answer = json!({"count": [1, 2]});
        assert_eq!(render(&answer, None, false), r#"{"count":[1,2]}"#);
        assert_eq!(
            render(&answer, None, true),
            "{\n  \"count\": [\n    1,\n    2\n  ]\n}"
        );
        assert_eq!(render(&answer, Some("compact"), true), r#"{"count":[1,2]}"#);
    }

    #[test]
    fn a_table_shows_the_answers_list_one_row_per_item() {
        let answer = json!({"status": "success", "comments": [
            {"_id": "c1", "comment": "first\nline", "votes": 3, "user": {"id": "u"}},
            {"_id": "c2", "comment": "x".repeat(100), "votes": null},
            {"_id": "c3", "comment": "evil\u{1b}[2J\u{1b}]0;pwned\u{7}"},
        ]});
        let text = render(&answer, Some("table"), false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("_id") && l.contains("votes")),
            "{text}"
        );
        assert!(!text.contains("user"), "{text}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("c1") && l.contains("first line")),
            "{text}"
        );
        assert!(text.contains('…'), "{text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("evil\\u{1b}[2J"), "{text}");
        // No list: the JSON itself.
        assert_eq!(
            render(&json!({"a": 1}), Some("table"), false),
            "{\n  \"a\": 1\n}"
        );
    }
}
