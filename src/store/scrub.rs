//! The one-off rewrite that takes readers' addresses out of rows written before addresses were
//! scrubbed on write (see `domain::personal`): delivery diagnostics and event details. It runs
//! once, when the store first opens after the upgrade, and records that it has.

use super::conn::{AsConn, q};
use super::{Result, Store};
use crate::domain::personal::scrub_addresses;

const DONE: &str = "addresses_scrubbed";
const BATCH: i64 = 1000;

/// The event log's guard against rewriting `detail`, exactly as migration 0001 made it.
const EVENTS_UPDATE_TRIGGER: &str = "CREATE TRIGGER events_append_only_update BEFORE UPDATE OF id, at, type, actor, list_id, issue_id, detail ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only');
END";

impl Store {
    pub(super) async fn scrub_stored_addresses(&self) -> Result<()> {
        let done: Option<String> = q!(scalar_opt, &mut self.read().await?, "SELECT value FROM settings WHERE key = $1", DONE)?;
        if done.is_some() {
            return Ok(());
        }
        if self.is_postgres() {
            // Every row of a PostgreSQL database was written scrubbed: by a binary that scrubs on
            // write, or copied from a SQLite file that was scrubbed when it was opened.
            q!(exec, &mut self.read().await?, "INSERT INTO settings (key, value) VALUES ($1, '1') ON CONFLICT (key) DO NOTHING", DONE)?;
            return Ok(());
        }
        let mut tx = self.write().await?;
        // Another process opening the same database may have done it while we waited.
        let raced: Option<String> = q!(scalar_opt, &mut tx, "SELECT value FROM settings WHERE key = $1", DONE)?;
        if raced.is_some() {
            return Ok(());
        }
        let deliveries = rewrite(&mut tx, "SELECT id, last_error FROM deliveries WHERE id > $1 AND last_error LIKE '%@%' ORDER BY id LIMIT $2", "UPDATE deliveries SET last_error = $1 WHERE id = $2").await?;
        // The only rewrite the append-only log ever gets, in the same transaction that puts its
        // guard back.
        q!(exec, &mut tx, "DROP TRIGGER events_append_only_update")?;
        let events = rewrite(&mut tx, "SELECT id, detail FROM events WHERE id > $1 AND detail LIKE '%@%' ORDER BY id LIMIT $2", "UPDATE events SET detail = $1 WHERE id = $2").await?;
        q!(exec, &mut tx, EVENTS_UPDATE_TRIGGER)?;
        q!(exec, &mut tx, "INSERT INTO settings (key, value) VALUES ($1, '1') ON CONFLICT (key) DO NOTHING", DONE)?;
        tx.commit().await?;
        if deliveries + events > 0 {
            tracing::info!(deliveries, events, "addresses removed from stored diagnostics and event details");
            self.checkpoint().await?;
        }
        Ok(())
    }
}

/// Walks the rows `select` finds in id order, a batch at a time, and writes back the scrubbed
/// text where it changed. Returns how many rows changed.
async fn rewrite(c: &mut impl AsConn, select: &str, update: &str) -> Result<u64> {
    let (mut after, mut changed) = (0i64, 0u64);
    loop {
        let rows: Vec<(i64, String)> = q!(all, c, select, after, BATCH)?;
        let Some(&(last, _)) = rows.last() else { return Ok(changed) };
        for (id, text) in &rows {
            let scrubbed = scrub_addresses(text);
            if scrubbed != text.as_str() {
                q!(exec, c, update, scrubbed.as_ref(), id)?;
                changed += 1;
            }
        }
        after = last;
    }
}
