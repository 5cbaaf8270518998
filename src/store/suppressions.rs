//! The suppression list's key: made once per installation, kept in `settings`, and used for every
//! entry. Entries written before there was a key (bare SHA-256) are keyed in place when the key
//! is made, so nothing that was suppressed stops being suppressed.

use super::conn::{AsConn, Job, q, serialise};
use super::{Result, Store, StoreError};
use crate::domain::{EmailAddress, SuppressionKey};

const SETTING: &str = "suppression_key";
const BATCH: i64 = 1000;

impl Store {
    /// Makes the key if there is none, and keys any bare entry: also those a binary from before
    /// keys wrote after the key was made (during a rolling upgrade). Finding none is one index
    /// probe.
    pub(super) async fn ensure_suppression_key(&self) -> Result<()> {
        let existing: Option<String> = q!(scalar_opt, &mut self.read().await?, "SELECT value FROM settings WHERE key = $1", SETTING)?;
        let bare: Option<String> = q!(scalar_opt, &mut self.read().await?, "SELECT email_hash FROM suppressions WHERE email_hash < 'k' LIMIT 1")?;
        if existing.is_some() && bare.is_none() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        // Another process may have made it meanwhile: the write lock (on PostgreSQL, an advisory
        // lock, as instances starting together all get here) decides.
        serialise(&mut tx, Job::SuppressionKey).await?;
        let stored: Option<String> = q!(scalar_opt, &mut tx, "SELECT value FROM settings WHERE key = $1", SETTING)?;
        let key = match stored.as_deref().map(SuppressionKey::from_hex) {
            Some(Some(key)) => key,
            Some(None) => return Err(StoreError::Corrupt("settings.suppression_key is not 64 hex digits".into())),
            None => {
                let key = SuppressionKey::generate();
                q!(exec, &mut tx, "INSERT INTO settings (key, value) VALUES ($1, $2)", SETTING, key.to_hex())?;
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
async fn rekey_legacy_entries(c: &mut impl AsConn, key: &SuppressionKey) -> Result<u64> {
    let (mut after, mut rekeyed) = (String::new(), 0u64);
    loop {
        let batch: Vec<String> = q!(scalar_all, c, "SELECT email_hash FROM suppressions WHERE email_hash > $1 AND email_hash < 'k' ORDER BY email_hash LIMIT $2", &after, BATCH)?;
        let Some(last) = batch.last().cloned() else { return Ok(rekeyed) };
        for entry in &batch {
            let Some(keyed) = key.rekey_legacy(entry) else { continue };
            // The address may be suppressed under its keyed entry already: then the bare one goes.
            q!(exec, c, "UPDATE suppressions SET email_hash = $1 WHERE email_hash = $2 AND NOT EXISTS (SELECT 1 FROM suppressions WHERE email_hash = $1)", &keyed, entry)?;
            q!(exec, c, "DELETE FROM suppressions WHERE email_hash = $1", entry)?;
            rekeyed += 1;
        }
        after = last;
    }
}

/// This installation's key (made when the store opened).
pub(super) async fn key(c: &mut impl AsConn) -> Result<SuppressionKey> {
    let stored: Option<String> = q!(scalar_opt, c, "SELECT value FROM settings WHERE key = $1", SETTING)?;
    stored.as_deref().and_then(SuppressionKey::from_hex).ok_or_else(|| StoreError::Corrupt("settings.suppression_key is missing or not 64 hex digits".into()))
}

/// The suppression entry for an address.
pub(super) async fn entry(c: &mut impl AsConn, email: &EmailAddress) -> Result<String> {
    Ok(key(c).await?.hash(email))
}
