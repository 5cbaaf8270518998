//! Delivery processes announce themselves with a heartbeat, so that when one dies its leases
//! go back to the queue at once instead of waiting for them to expire.

use chrono::{DateTime, Duration, Utc};

use super::{Result, Store};

/// An instance that has not beaten for this long is dead, wherever it ran.
pub const HEARTBEAT_TIMEOUT_SECS: i64 = 30;

impl Store {
    pub async fn register_instance(&self, id: &str, pid: u32, hostname: &str) -> Result<()> {
        let now = super::now();
        sqlx::query("INSERT INTO instances (id, pid, hostname, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at")
            .bind(id)
            .bind(i64::from(pid))
            .bind(hostname)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn heartbeat(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE instances SET heartbeat_at = $2 WHERE id = $1").bind(id).bind(super::now()).execute(&self.pool).await?;
        Ok(())
    }

    /// Keeps this instance's claims from expiring while it is alive and working on them.
    pub async fn extend_leases(&self, owner: &str, until: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE deliveries SET lease_until = $2 WHERE lease_owner = $1 AND state = 'sending'").bind(owner).bind(until).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn unregister_instance(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM instances WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Returns to the queue every `sending` delivery whose lease expired or whose owner is dead:
    /// silent for too long, or (on this host) no longer a running process. Returns how many.
    pub async fn reclaim_leases(&self, me: &str, hostname: &str, alive: impl Fn(u32) -> bool) -> Result<u64> {
        let now = super::now();
        let others: Vec<(String, i64, String, DateTime<Utc>)> = sqlx::query_as("SELECT id, pid, hostname, heartbeat_at FROM instances WHERE id <> $1").bind(me).fetch_all(&self.pool).await?;
        let stale = now - Duration::seconds(HEARTBEAT_TIMEOUT_SECS);
        let dead: Vec<String> = others
            .into_iter()
            .filter(|(_, pid, host, beat)| *beat < stale || (host == hostname && !alive(*pid as u32)))
            .map(|(id, ..)| id)
            .collect();
        let mut tx = self.write().await?;
        let mut reclaimed = sqlx::query("UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE state = 'sending' AND lease_until < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for id in &dead {
            reclaimed += sqlx::query("UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE state = 'sending' AND lease_owner = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM instances WHERE id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(reclaimed)
    }
}
