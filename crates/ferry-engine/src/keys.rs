//! Environment API keys: generated at random, stored only as a SHA-256 hash, and checked in
//! constant time.

use ferry_store::environments::Environment;
use ferry_store::sha256_hex;
use rand::RngExt;
use subtle::ConstantTimeEq;

use crate::{Engine, EngineError, EngineResult, ErrorKind};

/// A new secret key (UUID-shaped, like Nango's, so existing tooling accepts it).
pub fn generate_secret_key() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

impl Engine {
    /// The environment a bearer key belongs to.
    pub async fn authenticate(&self, key: &str) -> EngineResult<Environment> {
        let unauthorized = || {
            EngineError::new(
                ErrorKind::Unauthorized,
                "unknown_account",
                "The secret key is missing or invalid; send `Authorization: Bearer <secret key>`.",
            )
        };
        if key.is_empty() {
            return Err(unauthorized());
        }
        let hash = sha256_hex(key);
        if let Some(environment) = self.key_cache.get(&hash) {
            return Ok(environment);
        }
        let Some((environment, stored)) = self.store.environment_by_key_hash(&hash).await? else {
            return Err(unauthorized());
        };
        if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) {
            return Err(unauthorized());
        }
        self.key_cache.put(hash, environment.clone());
        Ok(environment)
    }

    /// Makes sure the `dev` environment exists. Returns the key when one was generated (to
    /// print once); with `FERRY_SECRET_KEY` set, that key is made the environment's key.
    pub async fn ensure_dev_environment(&self) -> EngineResult<Option<String>> {
        let configured = self.settings.secret_key.clone();
        match self.store.environment_by_name("dev").await? {
            Some(env) => {
                if let Some(key) = configured {
                    self.store.set_environment_key(&env.id, &key).await?;
                    self.key_cache.clear();
                }
                Ok(None)
            }
            None => {
                let key = configured.clone().unwrap_or_else(generate_secret_key);
                self.store.create_environment("dev", &key).await?;
                Ok(if configured.is_some() {
                    None
                } else {
                    Some(key)
                })
            }
        }
    }
}
