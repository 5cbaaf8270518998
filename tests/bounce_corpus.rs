//! The bounce corpus: one message per style of bounce, complaint and reply in
//! `tests/corpus/bounces/`, each read and compared with the verdict an operator wants
//! (`expected.json`). An entry marked `"known_gap": "why"` is reported but not failed on.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tidings::bounces::read::read;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Recipient {
    address: String,
    kind: Option<String>,
    reason: Option<String>,
}

/// What is compared: the message's kind and source, and its recipients in order.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Summary {
    kind: String,
    source: String,
    recipients: Vec<Recipient>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| fmt::Error)?)
    }
}

#[derive(Debug, Deserialize)]
struct Expected {
    kind: String,
    source: String,
    recipients: Vec<Recipient>,
    known_gap: Option<String>,
}

impl Expected {
    fn matches(&self, got: &Summary) -> bool {
        (&self.kind, &self.source, &self.recipients) == (&got.kind, &got.source, &got.recipients)
    }

    fn summary(&self) -> String {
        let Self { kind, source, recipients, .. } = self;
        serde_json::json!({ "kind": kind, "source": source, "recipients": recipients }).to_string()
    }
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bounces")
}

/// Every `.eml` file of the corpus, by name.
fn messages() -> BTreeMap<String, Vec<u8>> {
    let entries = std::fs::read_dir(corpus()).expect("tests/corpus/bounces is readable");
    entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let name = p.file_name().expect("a file name").to_string_lossy().into_owned();
            let raw = std::fs::read(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, raw)
        })
        .collect()
}

fn verdict_json(name: &str, raw: &[u8]) -> Result<serde_json::Value, String> {
    let verdict = read(raw).map_err(|e| format!("{name}: unreadable: {e}"))?;
    serde_json::to_value(&verdict).map_err(|e| format!("{name}: does not serialise: {e}"))
}

#[test]
fn every_message_gets_the_verdict_an_operator_wants() {
    let text = std::fs::read_to_string(corpus().join("expected.json")).expect("expected.json is readable");
    let expected: BTreeMap<String, Expected> = serde_json::from_str(&text).expect("expected.json is valid");
    let messages = messages();
    assert!(messages.len() >= 25, "the corpus has only {} messages", messages.len());

    let mut problems: Vec<String> = expected.keys().filter(|n| !messages.contains_key(*n)).map(|n| format!("{n}: in expected.json, but no such file")).collect();
    for (name, raw) in &messages {
        let Some(want) = expected.get(name) else {
            problems.push(format!("{name}: no entry in expected.json"));
            continue;
        };
        let got = match verdict_json(name, raw).and_then(|v| serde_json::from_value::<Summary>(v).map_err(|e| format!("{name}: {e}"))) {
            Ok(got) => got,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        match (&want.known_gap, want.matches(&got)) {
            (None, true) => {}
            (None, false) => problems.push(format!("{name}:\n    want {}\n    got  {got}", want.summary())),
            (Some(why), false) => eprintln!("known gap, skipped: {name}: {why}\n    want {}\n    got  {got}", want.summary()),
            (Some(_), true) => problems.push(format!("{name}: marked known_gap but now read correctly; remove the mark")),
        }
    }
    assert!(problems.is_empty(), "{} problem(s) in {} messages:\n{}", problems.len(), messages.len(), problems.join("\n"));
}

#[test]
fn every_verdict_serialises_with_the_contract_fields() {
    let mut problems = Vec::new();
    for (name, raw) in &messages() {
        let value = match verdict_json(name, raw) {
            Ok(v) => v,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let missing = |v: &serde_json::Value, keys: &[&str]| keys.iter().filter(|k| v.get(**k).is_none()).map(|k| k.to_string()).collect::<Vec<_>>();
        let mut absent = missing(&value, &["kind", "source", "recipients"]);
        for r in value["recipients"].as_array().into_iter().flatten() {
            absent.extend(missing(r, &["address", "kind", "reason", "status", "action", "diagnostic", "remote_mta"]).into_iter().map(|k| format!("recipients[].{k}")));
        }
        if !absent.is_empty() {
            problems.push(format!("{name}: no {}", absent.join(", ")));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Inputs the fuzzer found that once crashed the reader (`tests/corpus/fuzz/`): each is read
/// or refused as unreadable, never a panic, and `bounce ingest` exits 2 for the unreadable.
#[test]
fn inputs_that_crashed_the_reader_are_refused_cleanly() {
    let dir = corpus().parent().expect("the corpus folder").join("fuzz");
    for entry in std::fs::read_dir(&dir).expect("tests/corpus/fuzz") {
        let path = entry.expect("a file").path();
        let raw = std::fs::read(&path).expect("readable");
        let outcome = std::panic::catch_unwind(|| tidings::bounces::read::read(&raw).map(|v| v.kind));
        assert!(outcome.is_ok(), "{} panicked", path.display());
    }
}
