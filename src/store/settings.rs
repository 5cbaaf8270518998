//! The `settings` table: small values the installation keeps for itself (keys, one-off markers,
//! the last `tidings doctor` report).

use super::conn::q;
use super::{Result, Store};

/// Where the last doctor report is kept, as JSON.
const DOCTOR: &str = "doctor.last_report";

impl Store {
    pub async fn save_doctor_report(&self, json: &str) -> Result<()> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", DOCTOR, json)?;
        tx.commit().await
    }

    pub async fn doctor_report(&self) -> Result<Option<String>> {
        Ok(q!(scalar_opt, &mut self.read().await?, "SELECT value FROM settings WHERE key = $1", DOCTOR)?)
    }
}
