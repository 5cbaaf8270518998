//! The application, built once from the configuration and shared by every face (CLI, and later
//! the HTTP server and the delivery workers): the store, the signing keys, the site settings.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Config;
use crate::domain::token::Keys;
use crate::render::issue::Site;
use crate::store::{Store, StoreError};

pub struct App {
    pub config: Config,
    pub store: Store,
    pub keys: Keys,
    pub site: Site,
    /// What this process has done since it started, for `/metrics` (Prometheus computes rates).
    pub counters: Counters,
    /// Test copies each staff member may send: they go to any address, so they are not a way
    /// to mail strangers in bulk.
    pub test_copies: governor::DefaultKeyedRateLimiter<String>,
}

/// A burst of ten test copies per staff member, then one every six minutes.
fn test_copy_limit() -> governor::DefaultKeyedRateLimiter<String> {
    let quota = governor::Quota::with_period(std::time::Duration::from_secs(360)).expect("non-zero period").allow_burst(std::num::NonZeroU32::new(10).expect("non-zero"));
    governor::RateLimiter::keyed(quota)
}

#[derive(Debug, Default)]
pub struct Counters {
    pub messages_sent: AtomicU64,
    pub messages_failed: AtomicU64,
    pub confirmations_sent: AtomicU64,
    pub subscribe_requests: AtomicU64,
    pub confirmations: AtomicU64,
    pub unsubscribes: AtomicU64,
    /// Requests to personal feeds (counted, never logged: their URLs are credentials).
    pub personal_feed_requests: AtomicU64,
}

impl App {
    /// `[bounce]` as the store's policy needs it.
    pub fn bounce_policy(&self) -> crate::store::BouncePolicy {
        let b = &self.config.bounce;
        crate::store::BouncePolicy { soft_threshold: b.soft_bounce_threshold, window_days: b.soft_bounce_window_days }
    }
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

impl App {
    pub async fn open(config: Config) -> Result<Self, StoreError> {
        let store = Store::open(&config.database.url, config.database.max_connections).await?;
        let security = &config.security;
        let current = if security.secret_key.is_empty() { store.generated_secret_key().await? } else { security.secret_key.expose().to_string() };
        let previous = security.previous_keys.iter().map(|k| k.expose().as_bytes().to_vec()).collect();
        let keys = Keys::new(current.into_bytes(), previous);
        let site = Site::new(&config.site.base_url, &config.site.title, &config.site.postal_address);
        Ok(Self { config, store, keys, site, counters: Counters::default(), test_copies: test_copy_limit() })
    }
}
