//! Delivery processes announce themselves with a heartbeat, so that when one dies its leases
//! go back to the queue at once instead of waiting for them to expire; and a process that was
//! thought dead (frozen, cut off) learns so at its next heartbeat.

use chrono::Duration;

use super::conn::{Later, q};
use super::{Result, Store};

/// An instance that has not beaten for this long is dead, wherever it ran.
pub const HEARTBEAT_TIMEOUT_SECS: i64 = 30;

impl Store {
    pub async fn register_instance(&self, id: &str, pid: u32, hostname: &str) -> Result<()> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, [instances::REGISTER], id, i64::from(pid), hostname, super::now())?;
        tx.commit().await
    }

    /// Notes that the instance is alive. False when its row is gone: another instance declared
    /// it dead and took its leases, so whatever it holds is no longer its own.
    pub async fn heartbeat(&self, id: &str) -> Result<bool> {
        let mut tx = self.write().await?;
        let beaten = q!(exec, &mut tx, [instances::HEARTBEAT], id, super::now())? == 1;
        tx.commit().await?;
        Ok(beaten)
    }

    /// Keeps this instance's claims from expiring while it is alive and working on them.
    pub async fn extend_leases(&self, owner: &str, lease: Duration) -> Result<()> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, [instances::EXTEND_LEASES], owner, Later(lease))?;
        tx.commit().await
    }

    pub async fn unregister_instance(&self, id: &str) -> Result<()> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "DELETE FROM instances WHERE id = $1", id)?;
        tx.commit().await
    }

    /// Returns to the queue every `sending` delivery whose lease expired or whose owner is dead:
    /// silent for too long by the database's clock, or (on this host) no longer a running
    /// process. Returns how many.
    pub async fn reclaim_leases(&self, me: &str, hostname: &str, alive: impl Fn(u32) -> bool) -> Result<u64> {
        let stale_after = Later(-Duration::seconds(HEARTBEAT_TIMEOUT_SECS));
        let others: Vec<(String, i64, String, bool)> = q!(all, &mut self.read().await?, [instances::OTHERS], me, stale_after)?;
        tracing::debug!(?others, "other instances");
        let dead: Vec<String> = others.into_iter().filter(|(_, pid, host, stale)| *stale || (host == hostname && !alive(*pid as u32))).map(|(id, ..)| id).collect();
        let mut tx = self.write().await?;
        let now = super::now();
        let mut reclaimed = q!(exec, &mut tx, [instances::RECLAIM_EXPIRED], now)?;
        for id in &dead {
            reclaimed += q!(exec, &mut tx, [instances::RECLAIM_OWNER], now, id)?;
            q!(exec, &mut tx, [instances::FORGET], id)?;
        }
        tx.commit().await?;
        Ok(reclaimed)
    }
}
