//! The suppression list's key: made once per installation, kept in `settings`, and used for every
//! entry. Entries written before there was a key (bare SHA-256) are keyed in place when the key
//! is made, so nothing that was suppressed stops being suppressed.

use sqlx::SqliteConnection;

use super::{Result, Store, StoreError};
use crate::domain::{EmailAddress, SuppressionKey};

const SETTING: &str = "suppression_key";
const BATCH: i64 = 1000;

impl Store {
    /// Makes the key if there is none, and keys any bare entry: also those a binary from before
    /// keys wrote after the key was made (during a rolling upgrade). Finding none is one index
    /// probe.
    pub(super) async fn ensure_suppression_key(&self) -> Result<()> {
        let existing: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(SETTING).fetch_optional(&self.pool).await?;
        let bare: Option<String> = sqlx::query_scalar("SELECT email_hash FROM suppressions WHERE email_hash < 'k' LIMIT 1").fetch_optional(&self.pool).await?;
        if existing.is_some() && bare.is_none() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        // Another process may have made it meanwhile: the write lock decides.
        let stored: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(SETTING).fetch_optional(&mut *tx).await?;
        let key = match stored.as_deref().map(SuppressionKey::from_hex) {
            Some(Some(key)) => key,
            Some(None) => return Err(StoreError::Corrupt("settings.suppression_key is not 64 hex digits".into())),
            None => {
                let key = SuppressionKey::generate();
                sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2)").bind(SETTING).bind(key.to_hex()).execute(&mut *tx).await?;
                key
            }
        };
        let rekeyed = rekey_legacy_entries(&mut tx, &key).await?;
        tx.commit().await?;
        if rekeyed > 0 {
            tracing::info!(rekeyed, "suppression list entries keyed");
        }
        Ok(())
    }
}

/// Legacy entries are 64 hex digits, which sort below the `k1:` of keyed ones: the walk takes
/// them in order and never meets an entry it wrote.
async fn rekey_legacy_entries(conn: &mut SqliteConnection, key: &SuppressionKey) -> Result<u64> {
    let (mut after, mut rekeyed) = (String::new(), 0u64);
    loop {
        let batch: Vec<String> = sqlx::query_scalar("SELECT email_hash FROM suppressions WHERE email_hash > $1 AND email_hash < 'k' ORDER BY email_hash LIMIT $2")
            .bind(&after)
            .bind(BATCH)
            .fetch_all(&mut *conn)
            .await?;
        let Some(last) = batch.last().cloned() else { return Ok(rekeyed) };
        for entry in &batch {
            let Some(keyed) = key.rekey_legacy(entry) else { continue };
            // The address may be suppressed under its keyed entry already: then the bare one goes.
            sqlx::query("UPDATE OR IGNORE suppressions SET email_hash = $1 WHERE email_hash = $2").bind(keyed).bind(entry).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM suppressions WHERE email_hash = $1").bind(entry).execute(&mut *conn).await?;
            rekeyed += 1;
        }
        after = last;
    }
}

/// This installation's key (made when the store opened).
pub(super) async fn key(conn: &mut SqliteConnection) -> Result<SuppressionKey> {
    let stored: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(SETTING).fetch_optional(conn).await?;
    stored.as_deref().and_then(SuppressionKey::from_hex).ok_or_else(|| StoreError::Corrupt("settings.suppression_key is missing or not 64 hex digits".into()))
}

/// The suppression entry for an address.
pub(super) async fn entry(conn: &mut SqliteConnection, email: &EmailAddress) -> Result<String> {
    Ok(key(conn).await?.hash(email))
}
