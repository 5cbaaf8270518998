//! CSV export of subscriptions, page by page.

use std::io::Write;

use serde_json::Value;

use super::RESERVED_COLUMNS;
use crate::store::{ExportFilter, ExportRow, Store, StoreError};

const PAGE_ROWS: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the CSV: {0}")]
    Write(#[from] csv::Error),
}

/// Writes the header and every matching subscription; returns the number of rows written.
pub async fn export_csv<W: Write>(store: &Store, filter: &ExportFilter, out: W) -> Result<u64, ExportError> {
    let attribute_keys: Vec<String> = store
        .export_attribute_keys(filter)
        .await?
        .into_iter()
        .filter(|k| !k.eq_ignore_ascii_case("email") && !k.eq_ignore_ascii_case("name") && !RESERVED_COLUMNS.contains(&k.as_str()))
        .collect();
    let mut writer = csv::Writer::from_writer(out);
    let mut header = vec!["email", "name"];
    header.extend(attribute_keys.iter().map(String::as_str));
    header.extend(["list", "status", "consent_source", "subscribed_at", "confirmed_at", "unsubscribed_at"]);
    writer.write_record(&header)?;
    let (mut after, mut written) = ((0, 0), 0u64);
    loop {
        let page = store.export_page(filter, after, PAGE_ROWS).await?;
        let Some(last) = page.last() else { break };
        after = (last.list_id, last.subscriber_id);
        for row in &page {
            writer.write_record(record(row, &attribute_keys))?;
            written += 1;
        }
        writer.flush().map_err(csv::Error::from)?;
    }
    writer.flush().map_err(csv::Error::from)?;
    Ok(written)
}

/// A cell a spreadsheet would run as a formula (`=HYPERLINK(…)` as a name) is written with a
/// leading `'`, which spreadsheets show as text (OWASP's advice for CSV injection).
fn defuse_formula(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell }
}

fn record(row: &ExportRow, attribute_keys: &[String]) -> Vec<String> {
    let attributes = &row.attributes.0;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default();
    let mut fields = vec![row.email.clone(), row.name.clone()];
    fields.extend(attribute_keys.iter().map(|k| match attributes.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }));
    // Not the address: it is ours to parse, and `-x@example.org` must import back as it is.
    let mut fields: Vec<String> = fields.into_iter().enumerate().map(|(i, f)| if i == 0 { f } else { defuse_formula(f) }).collect();
    fields.extend([
        row.list.clone(),
        row.status.clone(),
        row.consent_source.clone(),
        time(Some(row.consent_at)),
        time(row.confirmed_at),
        time(row.unsubscribed_at),
    ]);
    fields
}
