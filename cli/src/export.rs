//! `export`: every comment of the tenant (or of one page, or since a date), oldest first,
//! to JSONL or CSV, streamed: at most the adaptive depth's ceiling of pages is held.
//!
//! The position is a date, not an offset: comments are listed oldest first
//! (`direction=OF`), and `--resume` reads the file's last complete record, cuts a
//! half-written one, and goes on from that record's date (`fromDate`), skipping the
//! records already written at that same millisecond. Comments added while an export
//! runs are dated now, so they come after every position already written and shift
//! nothing. What this cannot see: a comment imported with a date before the position
//! (it sorts before it), and a comment deleted during a run (later offsets of that run
//! move up by one).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Seek, SeekFrom, Write};

use clap::{Arg, ArgAction, ArgMatches, Command};
use fastcomments::client::Call;
use fastcomments::pagination::{Page, Paginated, PagingMode, Position as PagePosition};
use fastcomments::{Client, Error};
use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::exit::Failure;

/// The CSV columns, in order: the comment's id and date first (what `--resume` reads).
const CSV_COLUMNS: [&str; 10] = [
    "id",
    "date",
    "urlId",
    "parentId",
    "userId",
    "commenterName",
    "approved",
    "votes",
    "comment",
    "commentHTML",
];

pub fn command() -> Command {
    Command::new("export")
        .about("Every comment of the tenant, oldest first, to JSONL or CSV (resumable)")
        .arg(
            Arg::new("url-id")
                .long("url-id")
                .value_parser(clap::builder::NonEmptyStringValueParser::new())
                .help("Only this page's comments"),
        )
        .arg(
            Arg::new("since")
                .long("since")
                .value_name("DATE")
                .help("Only comments dated at or after DATE (RFC 3339, YYYY-MM-DD, or epoch ms)"),
        )
        .arg(
            Arg::new("format")
                .long("format")
                .value_parser(["jsonl", "csv"])
                .default_value("jsonl"),
        )
        .arg(
            Arg::new("file")
                .long("file")
                .value_name("PATH")
                .help("Write to PATH [default: stdout]"),
        )
        .arg(
            Arg::new("resume")
                .long("resume")
                .action(ArgAction::SetTrue)
                .requires("file")
                .help("Go on from the last complete record of --file (a half-written one is cut)"),
        )
        .arg(
            Arg::new("depth")
                .long("depth")
                .value_parser(clap::value_parser!(u16).range(1..=64))
                .default_value("16")
                .help("The most pages fetched ahead (the depth adapts below it to the service's answers)"),
        )
}

/// Where a resumed export (or one `--since` a date) starts: comments dated before `date`
/// are written (or not wanted), and so are those at `date` whose ids are in `ids`. A
/// fresh export skips nothing, whatever order the service lists comments in.
#[derive(Debug, Default, PartialEq)]
struct Position {
    date: i64,
    ids: HashSet<String>,
}

impl Position {
    /// Records the comment written last (they come in date order).
    fn advance(&mut self, date: i64, id: &str) {
        if date != self.date {
            self.date = date;
            self.ids.clear();
        }
        self.ids.insert(id.to_owned());
    }

    /// Whether a listed comment was written before the position.
    fn written(&self, date: i64, id: &str) -> bool {
        date < self.date || (date == self.date && self.ids.contains(id))
    }
}

pub async fn run(args: &ArgMatches, client: &Client) -> Result<(), Failure> {
    let csv = args.get_one::<String>("format").map(String::as_str) == Some("csv");
    let since = args
        .get_one::<String>("since")
        .map(|s| parse_date(s))
        .transpose()?;
    let depth = usize::from(*args.get_one::<u16>("depth").expect("defaulted"));
    let url_id = args.get_one::<String>("url-id");
    let expected = Expected {
        tenant: client.tenant_id(),
        url_id: url_id.map(String::as_str),
    };
    // What is already written (a resumed file) or not wanted (`--since`): skipped.
    let (out, mut skip): (Box<dyn Write>, Option<Position>) = match args.get_one::<String>("file") {
        Some(path) => {
            let (file, written) = open(path, args.get_flag("resume"), csv, &expected)?;
            (Box::new(file), written)
        }
        None => (Box::new(std::io::stdout().lock()), None),
    };
    let fresh = skip.is_none();
    if let Some(since) = since.filter(|since| skip.as_ref().is_none_or(|s| *since > s.date)) {
        skip = Some(Position {
            date: since,
            ids: HashSet::new(),
        });
    }
    let mut sink = Sink::new(out, csv, fresh)?;
    let mut call = client.call("GetComments")?.param("direction", "OF");
    if let Some(url_id) = url_id {
        call = call.param("urlId", url_id.as_str());
    }
    if let Some(from) = skip.as_ref().map(|s| s.date).filter(|d| *d > 0) {
        // One millisecond early: whether FastComments' `fromDate` is inclusive is not
        // documented; what comes before the position is skipped here.
        call = call.param("fromDate", (from - 1).to_string());
    }
    let progress = progress_bar();
    let mut comments = CommentPages(call).stream().adaptive_depth(depth);
    let mut written = 0u64;
    let result = loop {
        let next = tokio::select! {
            next = comments.try_next() => next,
            _ = tokio::signal::ctrl_c() => break Err(Failure::other("interrupted; --resume goes on")),
        };
        let comment = match next {
            Ok(Some(comment)) => comment,
            Ok(None) => break Ok(()),
            Err(e) => break Err(Failure::from(e)),
        };
        let value = comment;
        let (id, date) = (id_of(&value), value.get("date").and_then(date_ms));
        if let (Some(skip), Some(id), Some(date)) = (&skip, id, date)
            && skip.written(date, id)
        {
            continue;
        }
        sink.write(&value)?;
        written += 1;
        progress.inc(1);
    };
    sink.finish()?;
    progress.finish_and_clear();
    if std::io::stderr().is_terminal() {
        eprintln!("{written} comments written");
    }
    result
}

/// `GetComments` through [`Client::call`]: every comment as FastComments sent it (no
/// field lost to a type), and a spec without `fromDate` still builds (the call refuses
/// the parameter when sent).
#[derive(Clone)]
struct CommentPages<'a>(Call<'a>);

impl<'a> Paginated<'a> for CommentPages<'a> {
    type Item = Value;
    const OPERATION: &'static str = "GetComments";
    const MODES: &'static [PagingMode] = &[PagingMode::Skip];
    const PAGE_SIZE_PARAMETER: Option<&'static str> = Some("limit");

    fn at(self, position: &PagePosition, page_size: Option<u64>) -> Result<Self, Error> {
        let PagePosition::Offset(skip) = position else {
            return Err(Error::InvalidRequest(format!(
                "GetComments pages by skip, not {position:?}"
            )));
        };
        let call = self.0.param("skip", skip.to_string());
        Ok(CommentPages(match page_size {
            Some(size) => call.param("limit", size.to_string()),
            None => call,
        }))
    }

    fn fetch(self) -> BoxFuture<'a, Result<Page<Value>, Error>> {
        Box::pin(async move {
            let mut answer = self.0.send().await?;
            match answer.get_mut("comments").map(Value::take) {
                Some(Value::Array(items)) => Ok(Page::new(items, None, None)),
                _ => Err(Error::Decode {
                    message: "GetComments answered without a `comments` list".into(),
                    excerpt: answer.to_string().chars().take(200).collect(),
                }),
            }
        })
    }

    fn item_id(item: &Value) -> Option<String> {
        id_of(item).map(str::to_owned)
    }
}

/// A spinner with the count and rate on a terminal's stderr, nothing otherwise.
/// `GetComments` gives no total, so there is no ETA.
fn progress_bar() -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {human_pos} comments  {per_sec}  {elapsed}")
            .expect("a valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Opens `path` to append: created empty, or (`resume`) cut after its last complete
/// record, with that record's position. Without `resume` an existing file is refused
/// unless empty, so an export never silently overwrites or doubles one.
fn open(
    path: &str,
    resume: bool,
    csv: bool,
    expected: &Expected<'_>,
) -> Result<(std::fs::File, Option<Position>), Failure> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Failure::other(format!("opening {path}: {e}")))?;
    let length = file.metadata()?.len();
    if length == 0 {
        return Ok((file, None));
    }
    if !resume {
        return Err(Failure::usage(format!(
            "{path} is not empty: --resume to go on from its last record, or another file"
        )));
    }
    let read = if csv {
        last_csv_record(&mut file)
    } else {
        last_json_line(&mut file, expected)
    };
    let (end, position) = read.map_err(|reason| {
        Failure::usage(format!(
            "{path} is not this export's file ({reason}); it was left as it is"
        ))
    })?;
    file.set_len(end)?;
    file.seek(SeekFrom::Start(end))?;
    let position = (end > 0).then_some(position);
    Ok((file, position))
}

/// What a resumed file's records must match: the tenant and page exported.
struct Expected<'a> {
    tenant: Option<&'a str>,
    url_id: Option<&'a str>,
}

impl Expected<'_> {
    /// Why `record` is not one of this export's, if it is not.
    fn refuses(&self, record: &Value) -> Option<String> {
        let field = |name: &str| record.get(name).and_then(Value::as_str);
        let (Some(_), Some(_)) = (id_of(record), record.get("date").and_then(date_ms)) else {
            return Some("a record without an id and a date".into());
        };
        for (name, want) in [("tenantId", self.tenant), ("urlId", self.url_id)] {
            if let (Some(have), Some(want)) = (field(name), want)
                && have != want
            {
                return Some(format!("a record of {name} {have:?}, not {want:?}"));
            }
        }
        None
    }
}

/// The byte offset after the last complete JSON line, and the position it ends at; the
/// reason, when a complete line is not a record of this export (another file, another
/// format, another tenant or page).
fn last_json_line(
    file: &mut std::fs::File,
    expected: &Expected<'_>,
) -> Result<(u64, Position), String> {
    let io = |e: std::io::Error| e.to_string();
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut reader = BufReader::new(file);
    let mut end = 0u64;
    let mut position = Position::default();
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io)? as u64;
        if read == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            // A line cut by the end of the file is cut, if it is the start of a record.
            if line.first() != Some(&b'{') {
                return Err(format!("line {number} is not a record"));
            }
            break;
        }
        let value = serde_json::from_slice::<Value>(&line)
            .map_err(|e| format!("line {number} is not JSON: {e}"))?;
        if let Some(reason) = expected.refuses(&value) {
            return Err(format!("line {number}: {reason}"));
        }
        if let (Some(id), Some(date)) = (id_of(&value), value.get("date").and_then(date_ms)) {
            position.advance(date, id);
        }
        end += read;
    }
    Ok((end, position))
}

/// The byte offset after the last complete CSV record (all columns, ended by a
/// newline), and the position it ends at. The reader counts a record cut by the end of
/// the file as whole, so each record is taken only once the next one (or a final
/// newline) shows that it ended.
fn last_csv_record(file: &mut std::fs::File) -> Result<(u64, Position), String> {
    let io = |e: std::io::Error| e.to_string();
    let length = file.metadata().map_err(io)?.len();
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(&mut *file));
    let mut position = Position::default();
    let mut end = 0;
    // The record read last: where it starts and ends, and its date and id (none for the
    // header).
    let mut pending: Option<(u64, u64, Dated)> = None;
    let mut record = csv::StringRecord::new();
    let mut cut_tail = false;
    for number in 1.. {
        let start = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(format!("record {number}: {e}")),
        }
        let at_end = reader.position().byte() >= length;
        if number == 1 && !record.iter().eq(CSV_COLUMNS) {
            // Nothing but a header cut short is cut; anything else is another file.
            let header = format!("{}\n", CSV_COLUMNS.join(","));
            let cut_header = at_end && length < header.len() as u64 && {
                let raw: Vec<u8> = record.iter().collect::<Vec<_>>().join(",").into_bytes();
                header.as_bytes().starts_with(&raw)
            };
            if cut_header {
                break;
            }
            return Err("its first line is not this export's header".into());
        }
        if record.len() != CSV_COLUMNS.len() {
            if at_end {
                // Cut short by the end of the file: cut it; the record before it ended.
                cut_tail = true;
                break;
            }
            return Err(format!(
                "record {number} has {} columns, not {}",
                record.len(),
                CSV_COLUMNS.len()
            ));
        }
        let dated = match (number, record[1].parse::<i64>()) {
            (1, _) => None,
            (_, Ok(date)) if !record[0].is_empty() => Some((date, record[0].to_owned())),
            _ if at_end => None,
            _ => return Err(format!("record {number} has no id and date")),
        };
        if let Some((_, offset, dated)) = pending.replace((start, reader.position().byte(), dated))
        {
            end = offset;
            if let Some((date, id)) = dated {
                position.advance(date, &id);
            }
        }
    }
    drop(reader);
    // Only the last record can be cut: it is whole when it ends with a newline outside
    // quotes (an even number of `"` in it).
    if let Some((start, offset, dated)) = pending
        && (cut_tail || whole_record(file, start, length).map_err(io)?)
    {
        end = offset;
        if let Some((date, id)) = dated {
            position.advance(date, &id);
        }
    }
    Ok((end, position))
}

/// A CSV record's date and id; `None` for the header.
type Dated = Option<(i64, String)>;

/// Whether the bytes from `start` to the end of the file end with a newline outside
/// quotes.
fn whole_record(file: &mut std::fs::File, start: u64, length: u64) -> std::io::Result<bool> {
    use std::io::Read;
    file.seek(SeekFrom::Start(start))?;
    let mut quotes = 0u64;
    let mut last = None;
    let mut buffer = [0u8; 1 << 14];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        quotes += buffer[..n].iter().filter(|b| **b == b'"').count() as u64;
        last = buffer[..n].last().copied();
    }
    Ok(length > start && last == Some(b'\n') && quotes.is_multiple_of(2))
}

/// The comment's id (`_id`, or `id`).
fn id_of(value: &Value) -> Option<&str> {
    value
        .get("_id")
        .or_else(|| value.get("id"))
        .and_then(Value::as_str)
}

/// A date as FastComments sends it (epoch milliseconds, or an ISO string), in ms.
fn date_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.timestamp_millis()),
        _ => None,
    }
}

/// `--since`: RFC 3339, a day (`YYYY-MM-DD`, midnight UTC), or epoch milliseconds.
pub fn parse_date(text: &str) -> Result<i64, Failure> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(date) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(date.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
        .ok_or_else(|| {
            Failure::usage(format!(
                "--since {text:?} is not a date (RFC 3339, YYYY-MM-DD or epoch ms)"
            ))
        })
}

/// Writes records as JSON lines or CSV rows.
enum Sink {
    Json(BufWriter<Box<dyn Write>>),
    Csv(Box<csv::Writer<Box<dyn Write>>>),
}

/// A CSV write that failed: its I/O error as such (a closed pipe is no failure).
fn csv_failure(error: csv::Error) -> Failure {
    let message = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(io) => io.into(),
        _ => Failure::other(message),
    }
}

impl Sink {
    fn new(out: Box<dyn Write>, csv: bool, fresh: bool) -> Result<Sink, Failure> {
        if !csv {
            return Ok(Sink::Json(BufWriter::with_capacity(1 << 16, out)));
        }
        let mut writer = csv::Writer::from_writer(out);
        if fresh {
            writer.write_record(CSV_COLUMNS).map_err(csv_failure)?;
        }
        Ok(Sink::Csv(Box::new(writer)))
    }

    fn write(&mut self, value: &Value) -> Result<(), Failure> {
        match self {
            Sink::Json(out) => {
                serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
                out.write_all(b"\n")?;
            }
            Sink::Csv(out) => {
                let row = CSV_COLUMNS.map(|c| match (c, value.get(c)) {
                    ("date", Some(date)) => {
                        date_ms(date).map_or_else(String::new, |d| d.to_string())
                    }
                    (_, None | Some(Value::Null)) => String::new(),
                    (_, Some(Value::String(s))) => s.clone(),
                    (_, Some(other)) => other.to_string(),
                });
                out.write_record(row).map_err(csv_failure)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), Failure> {
        match self {
            Sink::Json(mut out) => out.flush()?,
            Sink::Csv(mut out) => out.flush()?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> (std::path::PathBuf, std::fs::File) {
        let path = std::env::temp_dir().join(format!(
            "fc-export-{}-{}",
            std::process::id(),
            fastrand_name()
        ));
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        (path, file)
    }

    fn fastrand_name() -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(0);
        h.finish()
    }

    #[test]
    fn resume_cuts_a_half_line_and_keeps_the_ties_of_the_last_date() {
        let text = b"{\"_id\":\"a\",\"date\":1}\n{\"_id\":\"b\",\"date\":2}\n{\"_id\":\"c\",\"date\":2}\n{\"_id\":\"d\",\"da";
        let (path, mut file) = file_with(text);
        let (end, position) = last_json_line(&mut file, &ANY).unwrap();
        assert_eq!(end as usize, text.len() - "{\"_id\":\"d\",\"da".len());
        assert_eq!(position.date, 2);
        assert_eq!(position.ids, HashSet::from(["b".into(), "c".into()]));
        assert!(position.written(1, "z") && position.written(2, "c"));
        assert!(!position.written(2, "d") && !position.written(3, "a"));
        std::fs::remove_file(path).unwrap();
    }

    const ANY: Expected<'static> = Expected {
        tenant: None,
        url_id: None,
    };

    /// Why resuming `text` as JSONL (`csv` false) or CSV is refused.
    fn refused(text: &[u8], csv: bool, expected: &Expected<'_>) -> String {
        let (path, mut file) = file_with(text);
        let read = if csv {
            last_csv_record(&mut file)
        } else {
            last_json_line(&mut file, expected)
        };
        std::fs::remove_file(path).unwrap();
        read.expect_err("refused")
    }

    #[test]
    fn resume_refuses_a_file_that_is_not_this_exports_and_leaves_it() {
        let jsonl = b"{\"id\":\"a\",\"date\":1,\"tenantId\":\"acme\",\"urlId\":\"p\"}\n";
        let csv = b"id,date,urlId,parentId,userId,commenterName,approved,votes,comment,commentHTML\na,5,p,,u,n,true,0,c,h\n";
        assert!(refused(b"my notes\n", false, &ANY).contains("not JSON"));
        assert!(refused(b"my notes", false, &ANY).contains("not a record"));
        assert!(refused(csv, false, &ANY).contains("not JSON"));
        assert!(refused(b"{\"x\": 1}\n", false, &ANY).contains("without an id"));
        let demo = Expected {
            tenant: Some("demo"),
            url_id: None,
        };
        assert!(refused(jsonl, false, &demo).contains("tenantId \"acme\""));
        let page = Expected {
            tenant: Some("acme"),
            url_id: Some("q"),
        };
        assert!(refused(jsonl, false, &page).contains("urlId"));
        assert!(refused(jsonl, true, &ANY).contains("header"));
        assert!(refused(b"a,b,c\n1,2,3\n", true, &ANY).contains("header"));
        assert!(refused(b"a,b,c", true, &ANY).contains("header"));
        // A corrupt record in the middle is refused, not cut with all that follows.
        let mut middle = csv.to_vec();
        middle.extend_from_slice(b"x,y\nb,6,p,,u,n,true,0,c,h\n");
        assert!(refused(&middle, true, &ANY).contains("columns"));
        let mut middle = jsonl.to_vec();
        middle.extend_from_slice(b"{oops\n");
        middle.extend_from_slice(jsonl);
        assert!(refused(&middle, false, &ANY).contains("line 2"));
    }

    #[test]
    fn a_csv_record_holding_newlines_is_one_record_and_a_cut_one_is_dropped() {
        let head =
            "id,date,urlId,parentId,userId,commenterName,approved,votes,comment,commentHTML\n";
        let full = "a,5,p,,u,n,true,0,\"two\nlines\",<p>x</p>\n";
        let cut = "b,6,p,,u,n,true,0,\"half";
        let (path, mut file) = file_with(format!("{head}{full}{cut}").as_bytes());
        let (end, position) = last_csv_record(&mut file).unwrap();
        assert_eq!(end as usize, head.len() + full.len());
        assert_eq!((position.date, position.ids.len()), (5, 1));
        assert!(position.ids.contains("a"));
        std::fs::remove_file(path).unwrap();
        // A last record with all its columns but no newline is cut too.
        let (path, mut file) = file_with(format!("{head}{full}b,6,p,,u,n,true,0,x,y").as_bytes());
        let (end, position) = last_csv_record(&mut file).unwrap();
        assert_eq!(end as usize, head.len() + full.len());
        assert_eq!(position.date, 5);
        std::fs::remove_file(path).unwrap();
        // A record cut just after a newline inside its quoted last column is cut.
        let inside = "b,6,p,,u,n,true,0,c,\"<p>first half\n";
        let (path, mut file) = file_with(format!("{head}{full}{inside}").as_bytes());
        let (end, position) = last_csv_record(&mut file).unwrap();
        assert_eq!(end as usize, head.len() + full.len());
        assert_eq!(position.date, 5);
        std::fs::remove_file(path).unwrap();
        // The header alone is kept; a header cut short is not.
        let (path, mut file) = file_with(head.as_bytes());
        assert_eq!(
            last_csv_record(&mut file).unwrap(),
            (head.len() as u64, Position::default())
        );
        std::fs::remove_file(path).unwrap();
        let (path, mut file) = file_with(b"id,date,ur");
        assert_eq!(
            last_csv_record(&mut file).unwrap(),
            (0, Position::default())
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn since_takes_three_spellings_and_refuses_others() {
        assert_eq!(parse_date("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_date("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_date("1970-01-01T00:00:01Z").unwrap(), 1_000);
        assert_eq!(
            parse_date("yesterday").unwrap_err().code(),
            crate::exit::USAGE
        );
    }
}
