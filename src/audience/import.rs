//! CSV import: parse on a blocking thread, merge in batched transactions on the async side.
//!
//! Good rows are kept and bad rows reported with their line; a batch is one transaction, so a
//! crash loses at most the batch in flight and a rerun merges the same rows again as updates.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;
use std::path::Path;

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::RESERVED_COLUMNS;
use crate::domain::{EmailAddress, SubscriberName};
use crate::store::{ImportRow, Store, StoreError};

/// Rows merged per transaction.
const BATCH_ROWS: usize = 5_000;
/// Problems kept in the report; past this they are only counted (each is still passed to the
/// caller's `on_problem` as it is found).
const MAX_LISTED_PROBLEMS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Open { path: String, source: std::io::Error },
    #[error("{path} is not UTF-8 text (first bad byte on line {line}); save it as UTF-8 and import again")]
    NotUtf8 { path: String, line: u64 },
    #[error("the CSV has no header row")]
    Empty,
    #[error("the header row has no \"email\" column (found: {found})")]
    NoEmailColumn { found: String },
    #[error("the CSV cannot be read at line {line}: {message}")]
    Csv { line: u64, message: String },
    #[error("the import stopped at line {line}: {source}")]
    Store { line: u64, source: StoreError },
}

impl ImportError {
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Store { source, .. } if !source.is_bad_input())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

#[derive(Debug, Default, serde::Serialize)]
pub struct ImportReport {
    pub rows: u64,
    pub imported: u64,
    pub updated: u64,
    pub skipped: u64,
    pub problems: Vec<Problem>,
    pub problems_not_listed: u64,
}

impl ImportReport {
    fn note(&mut self, problem: Problem, on_problem: &mut impl FnMut(&Problem)) {
        on_problem(&problem);
        self.skipped += 1;
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.problems_not_listed += 1;
        }
    }
}

/// Checks that a whole file is UTF-8 before anything is written, so a file in another encoding is
/// refused whole rather than half-imported. Streams; stops at the first bad byte.
pub fn check_utf8(path: &Path) -> Result<(), ImportError> {
    let shown = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|source| ImportError::Open { path: shown.clone(), source })?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut carry, mut line) = (0usize, 1u64);
    loop {
        let n = file.read(&mut buf[carry..]).map_err(|source| ImportError::Open { path: shown.clone(), source })?;
        let filled = carry + n;
        let (valid_up_to, bad) = match std::str::from_utf8(&buf[..filled]) {
            Ok(_) => (filled, false),
            // An incomplete character at the end of the buffer may complete in the next read.
            Err(e) if e.error_len().is_none() && n > 0 => (e.valid_up_to(), false),
            Err(e) => (e.valid_up_to(), true),
        };
        line += buf[..valid_up_to].iter().filter(|b| **b == b'\n').count() as u64;
        if bad {
            return Err(ImportError::NotUtf8 { path: shown, line });
        }
        if n == 0 {
            return Ok(());
        }
        buf.copy_within(valid_up_to..filled, 0);
        carry = filled - valid_up_to;
    }
}

/// What the parsing thread hands to the writer.
enum Parsed {
    Batch { rows: Vec<ImportRow>, problems: Vec<Problem>, last_line: u64 },
    Failed(ImportError),
}

/// Imports CSV from `source` into the list `list_id`. `on_problem` sees each bad row as found.
pub async fn import_csv<R>(store: &Store, source: R, list_id: i64, confirmed: bool, mut on_problem: impl FnMut(&Problem)) -> Result<ImportReport, ImportError>
where
    R: Read + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(2);
    let parser = tokio::task::spawn_blocking(move || parse(source, &tx));
    let mut report = ImportReport::default();
    while let Some(parsed) = rx.recv().await {
        let (rows, problems, last_line) = match parsed {
            Parsed::Batch { rows, problems, last_line } => (rows, problems, last_line),
            Parsed::Failed(err) => return Err(err),
        };
        report.rows += (rows.len() + problems.len()) as u64;
        for problem in problems {
            report.note(problem, &mut on_problem);
        }
        let merged = store.import_batch(list_id, confirmed, &rows).await.map_err(|source| ImportError::Store { line: rows.first().map_or(last_line, |r| r.line), source })?;
        report.imported += merged.imported;
        report.updated += merged.updated;
        for skip in merged.skipped {
            let reason = format!("{}: {}", skip.email, skip.outcome.reason());
            report.note(Problem { line: skip.line, reason }, &mut on_problem);
        }
    }
    // The channel closes when the parser is done; a panic there must not pass for success.
    parser.await.map_err(|e| ImportError::Csv { line: 0, message: format!("the CSV reader stopped: {e}") })?;
    Ok(report)
}

/// The header's meaning: which column is which.
struct Columns {
    email: usize,
    name: Option<usize>,
    status: Option<usize>,
    attributes: Vec<(usize, String)>,
    count: usize,
}

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Self, ImportError> {
        let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
        let find = |wanted: &str| names.iter().position(|n| n.eq_ignore_ascii_case(wanted));
        let email = find("email").ok_or_else(|| ImportError::NoEmailColumn { found: names.join(", ") })?;
        let attributes = names
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty() && !n.eq_ignore_ascii_case("email") && !n.eq_ignore_ascii_case("name"))
            .filter(|(_, n)| !RESERVED_COLUMNS.iter().any(|r| n.eq_ignore_ascii_case(r)))
            .map(|(i, n)| (i, n.clone()))
            .collect();
        Ok(Self { email, name: find("name"), status: find("status"), attributes, count: names.len() })
    }

    fn row(&self, record: &csv::StringRecord, line: u64) -> Result<ImportRow, Problem> {
        let problem = |reason: String| Problem { line, reason };
        if record.len() != self.count {
            return Err(problem(format!("the row has {} fields but the header has {}", record.len(), self.count)));
        }
        let raw_email = &record[self.email];
        let email = EmailAddress::parse(raw_email).map_err(|e| problem(format!("invalid email address {:?}: {e}", raw_email.trim())))?;
        let name = match self.name {
            Some(i) => SubscriberName::parse(&record[i]).map_err(|e| problem(format!("invalid name for {email}: {e}")))?,
            None => SubscriberName::default(),
        };
        if let Some(status) = self.status.map(|i| record[i].trim().to_ascii_lowercase())
            && matches!(status.as_str(), "unsubscribed" | "bounced" | "complained")
        {
            return Err(problem(format!("{email}: marked {status} in the file, so not subscribed")));
        }
        if let Some((_, column)) = self.attributes.iter().find(|(i, _)| record[*i].contains('\0')) {
            return Err(problem(format!("{email}: the {column:?} column holds a NUL character")));
        }
        let attributes: Map<String, Value> = self
            .attributes
            .iter()
            .filter(|(i, _)| !record[*i].trim().is_empty())
            .map(|(i, n)| (n.clone(), Value::String(record[*i].trim().to_string())))
            .collect();
        Ok(ImportRow::new(line, email, name, Value::Object(attributes).to_string()))
    }
}

/// Runs on a blocking thread: reads records and sends batches until the input ends or the
/// receiver goes away.
fn parse<R: Read>(source: R, tx: &mpsc::Sender<Parsed>) {
    let newlines = Rc::new(RefCell::new(VecDeque::new()));
    let mut lines = LineIndex { newlines: newlines.clone(), line: 1 };
    let counting = NewlineRecorder { inner: source, offset: 0, newlines };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(counting);
    let columns = match reader.headers() {
        Ok(h) if h.iter().all(|f| f.trim().is_empty()) => Err(ImportError::Empty),
        Ok(h) => Columns::from_header(h),
        Err(e) => Err(csv_error(&e)),
    };
    let columns = match columns {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.blocking_send(Parsed::Failed(e));
            return;
        }
    };
    let mut record = csv::StringRecord::new();
    let (mut rows, mut problems, mut line) = (Vec::with_capacity(BATCH_ROWS), Vec::new(), 1u64);
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                line = record.position().map_or(line + 1, |p| lines.line_at(p.byte()));
                match columns.row(&record, line) {
                    Ok(row) => rows.push(row),
                    Err(problem) => problems.push(problem),
                }
            }
            Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                line = e.position().map_or(line + 1, |p| lines.line_at(p.byte()));
                problems.push(Problem { line, reason: "the row is not valid UTF-8".into() });
            }
            Err(e) => {
                let _ = tx.blocking_send(Parsed::Failed(csv_error(&e)));
                return;
            }
        }
        if rows.len() >= BATCH_ROWS {
            let batch = Parsed::Batch { rows: std::mem::replace(&mut rows, Vec::with_capacity(BATCH_ROWS)), problems: std::mem::take(&mut problems), last_line: line };
            if tx.blocking_send(batch).is_err() {
                return;
            }
        }
    }
    if !rows.is_empty() || !problems.is_empty() {
        let _ = tx.blocking_send(Parsed::Batch { rows, problems, last_line: line });
    }
}

/// Notes the byte offset of every newline that passes through, so a record's byte offset can be
/// turned into its line. (csv's own line counter undercounts files with CRLF line ends.)
struct NewlineRecorder<R> {
    inner: R,
    offset: u64,
    newlines: Rc<RefCell<VecDeque<u64>>>,
}

impl<R: Read> Read for NewlineRecorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut newlines = self.newlines.borrow_mut();
        newlines.extend(buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| self.offset + i as u64));
        self.offset += n as u64;
        Ok(n)
    }
}

/// Turns increasing byte offsets into 1-based line numbers, forgetting newlines already passed:
/// it holds at most the newlines of the reader's look-ahead buffer.
struct LineIndex {
    newlines: Rc<RefCell<VecDeque<u64>>>,
    line: u64,
}

impl LineIndex {
    /// A record's reported start may be the `\n` of the CRLF before it (csv stops at the `\r`), so
    /// a newline at the offset itself is behind the record too.
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut newlines = self.newlines.borrow_mut();
        while newlines.front().is_some_and(|at| *at <= byte) {
            newlines.pop_front();
            self.line += 1;
        }
        self.line
    }
}

fn csv_error(e: &csv::Error) -> ImportError {
    let line = e.position().map_or(0, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    };
    ImportError::Csv { line, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_check_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.csv");
        std::fs::write(&good, "email,name\nwang@example.cn,王小明\n").unwrap();
        assert!(check_utf8(&good).is_ok());
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, b"email,name\na@example.com,x\nb@example.com,Jos\xe9\n").unwrap();
        match check_utf8(&bad) {
            Err(ImportError::NotUtf8 { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn utf8_check_handles_characters_split_across_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let row = "x@example.com,王小明\n";
        std::fs::write(&path, format!("email,name\n{}", row.repeat(20_000))).unwrap();
        assert!(check_utf8(&path).is_ok());
    }

    #[test]
    fn columns_map_to_fields_and_attributes() {
        let header = csv::StringRecord::from(vec![" Email ", "Name", "city", "status", "list"]);
        let cols = Columns::from_header(&header).unwrap();
        let row = cols.row(&csv::StringRecord::from(vec!["a@Example.COM", " Ann ", "Paris", "confirmed", "x"]), 2).unwrap();
        assert_eq!(row.email.as_str(), "a@example.com");
        assert_eq!(row.name.as_str(), "Ann");
        assert_eq!(row.attributes, r#"{"city":"Paris"}"#);
        let gone = cols.row(&csv::StringRecord::from(vec!["a@example.com", "", "", "unsubscribed", ""]), 3).unwrap_err();
        assert!(gone.reason.contains("marked unsubscribed"), "{gone}");
        let short = cols.row(&csv::StringRecord::from(vec!["a@example.com"]), 4).unwrap_err();
        assert!(short.reason.contains("1 fields but the header has 5"), "{short}");
        assert!(Columns::from_header(&csv::StringRecord::from(vec!["mail", "name"])).is_err());
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;

    fn lines_of_problems(input: &'static [u8]) -> Vec<u64> {
        let (tx, mut rx) = mpsc::channel(8);
        parse(input, &tx);
        drop(tx);
        let mut lines = vec![];
        while let Ok(p) = rx.try_recv() {
            if let Parsed::Batch { problems, .. } = p {
                lines.extend(problems.iter().map(|p| p.line));
            }
        }
        lines
    }

    #[test]
    fn problems_carry_the_file_line_with_lf_crlf_bom_and_quoted_newlines() {
        assert_eq!(lines_of_problems(b"email\na@example.com\nbad\n"), vec![3]);
        assert_eq!(lines_of_problems(b"email\r\na@example.com\r\nbad\r\n"), vec![3]);
        assert_eq!(lines_of_problems(b"\xef\xbb\xbfemail,name\r\na@example.com,x\r\nbad,y\r\n"), vec![3]);
        assert_eq!(lines_of_problems(b"email,note\r\na@example.com,\"two\r\nlines\"\r\nbad,y\r\n"), vec![4]);
        assert_eq!(lines_of_problems(b"email,name\na@example.com,\"Eve\nBcc: x\"\nbad,y\n"), vec![2, 4]);
    }
}
