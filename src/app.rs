//! The application, built once from the configuration and shared by every face (CLI, and later
//! the HTTP server and the delivery workers): the store, the signing keys, the site settings.

use crate::config::Config;
use crate::domain::token::Keys;
use crate::render::issue::Site;
use crate::store::{Store, StoreError};

pub struct App {
    pub config: Config,
    pub store: Store,
    pub keys: Keys,
    pub site: Site,
}

impl App {
    pub async fn open(config: Config) -> Result<Self, StoreError> {
        let store = Store::open(&config.database.url, config.database.max_connections).await?;
        let security = &config.security;
        let current = if security.secret_key.is_empty() { store.generated_secret_key().await? } else { security.secret_key.expose().to_string() };
        let previous = security.previous_keys.iter().map(|k| k.expose().as_bytes().to_vec()).collect();
        let keys = Keys::new(current.into_bytes(), previous);
        let site = Site::new(&config.site.base_url, &config.site.title, &config.site.postal_address);
        Ok(Self { config, store, keys, site })
    }
}
