//! Environments and their API keys: authenticating a bearer key (an environment key acts in
//! its environment; an account key manages environments), keys stored only as SHA-256 hashes
//! and compared in constant time, several keys per environment so one can be rotated with an
//! overlap, environment variables and the webhook signing key (sealed at rest).

use std::sync::Arc;

use crate::crypto::{Cipher, sha256_hex};
use crate::storage::Store;
use crate::storage::{ApiKeyRecord, EnvironmentRecord};
use rand::RngExt;
use subtle::ConstantTimeEq;

use crate::cache::{HOT_ENTRIES, HotCache};
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ApiKeyId, EnvironmentId, EnvironmentName};
use crate::settings::{ExposeSecret, Settings};

/// The key rows that settings manage: changing the setting replaces them.
const SECRET_KEY_NAME: &str = "FERRY_SECRET_KEY";
const ACCOUNT_KEY_NAME: &str = "FERRY_ACCOUNT_KEY";

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: EnvironmentId,
    /// The integer id Nango's API shows.
    pub number: i64,
    pub name: String,
    pub is_production: bool,
    pub created_at: String,
}

impl Environment {
    fn from_record(r: EnvironmentRecord) -> Environment {
        Environment {
            id: EnvironmentId::from_stored(r.id),
            number: r.number,
            name: r.name,
            is_production: r.is_production,
            created_at: r.created_at,
        }
    }
}

/// Who a bearer key belongs to.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An environment key: it acts in that environment.
    Environment(Arc<Environment>),
    /// An account key: it manages environments and their keys.
    Account,
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub display_name: String,
    pub created_at: String,
}

impl ApiKey {
    fn from_record(r: ApiKeyRecord) -> ApiKey {
        ApiKey {
            id: ApiKeyId::from_stored(r.id),
            display_name: r.display_name,
            created_at: r.created_at,
        }
    }
}

/// A key just made: the only time its secret is known.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnvironmentVariable {
    pub name: String,
    pub value: String,
}

/// Keys made at the first start, printed once.
#[derive(Default)]
pub struct GeneratedKeys {
    pub dev_secret_key: Option<String>,
    pub account_key: Option<String>,
}

impl std::fmt::Debug for GeneratedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKeys")
            .field(
                "dev_secret_key",
                &self.dev_secret_key.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "account_key",
                &self.account_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// A new secret: UUID-shaped, like Nango's, so existing tooling accepts it.
pub fn generate_secret() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[derive(Clone)]
pub struct Environments {
    store: Store,
    cipher: Cipher,
    settings: Arc<Settings>,
    /// Key hash → caller, so most calls do not read the database to authenticate.
    callers: Arc<HotCache<Caller>>,
}

fn unknown_environment(id: &impl std::fmt::Display) -> EngineError {
    EngineError::new(
        ErrorCode::UnknownEnvironment,
        format!("There is no environment `{id}`."),
    )
}

impl Environments {
    pub(crate) fn new(store: Store, cipher: Cipher, settings: Arc<Settings>) -> Environments {
        Environments {
            store,
            cipher,
            settings,
            callers: Arc::new(HotCache::new(HOT_ENTRIES)),
        }
    }

    /// Who `key` belongs to.
    pub async fn authenticate(&self, key: &str) -> EngineResult<Caller> {
        let unauthorized = || {
            EngineError::new(
                ErrorCode::UnknownAccount,
                "The secret key is missing or invalid; send `Authorization: Bearer <secret key>`.",
            )
        };
        if key.is_empty() {
            return Err(unauthorized());
        }
        let hash = sha256_hex(key);
        if let Some(caller) = self.callers.get(&hash) {
            return Ok(Caller::clone(&caller));
        }
        let ticket = self.callers.ticket(&hash);
        let Some((stored, environment)) = self.store.api_key_by_hash(&hash).await? else {
            return Err(unauthorized());
        };
        if !bool::from(stored.secret_hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Err(unauthorized());
        }
        let caller = match (stored.environment_id, environment) {
            (None, _) => Caller::Account,
            (Some(_), Some(env)) => Caller::Environment(Arc::new(Environment::from_record(env))),
            (Some(_), None) => return Err(unauthorized()),
        };
        self.callers.fill(ticket, hash, Arc::new(caller.clone()));
        Ok(caller)
    }

    /// Makes sure the `dev` environment and an account key exist, and that the keys named
    /// by `FERRY_SECRET_KEY` and `FERRY_ACCOUNT_KEY` are the current ones. Returns the keys
    /// generated now, to print once.
    pub(crate) async fn ensure_configured_keys(&self) -> EngineResult<GeneratedKeys> {
        let mut generated = GeneratedKeys::default();
        // Reads come first: a unit of work on an in-memory SQLite holds its only connection.
        let existing_dev = self.store.environment_by_name("dev").await?;
        let dev_keys = match &existing_dev {
            Some(dev) => self.store.api_keys(Some(&dev.id)).await?,
            None => Vec::new(),
        };
        let account_keys = self.store.api_keys(None).await?;
        let mut tx = self.store.begin().await?;
        let dev = match existing_dev {
            Some(dev) => dev,
            None => tx.create_environment("dev", false).await?.ok_or_else(|| {
                EngineError::internal(
                    "creating the dev environment",
                    "its name was taken at the same time",
                )
            })?,
        };
        // Webhooks to the app are signed with it; environments made by the API get one at once.
        if dev.webhook_signing_key_enc.is_none() {
            tx.set_webhook_signing_key(&dev.id, &self.cipher.seal(&generate_secret()))
                .await?;
        }
        match &self.settings.secret_key {
            Some(key) => {
                tx.set_named_api_key(
                    Some(&dev.id),
                    SECRET_KEY_NAME,
                    &sha256_hex(key.expose_secret()),
                )
                .await?;
            }
            None if dev_keys.is_empty() => {
                let key = generate_secret();
                tx.set_named_api_key(Some(&dev.id), SECRET_KEY_NAME, &sha256_hex(&key))
                    .await?;
                generated.dev_secret_key = Some(key);
            }
            None => {}
        }
        match &self.settings.account_key {
            Some(key) => {
                tx.set_named_api_key(None, ACCOUNT_KEY_NAME, &sha256_hex(key.expose_secret()))
                    .await?;
            }
            None if account_keys.is_empty() => {
                let key = generate_secret();
                tx.set_named_api_key(None, ACCOUNT_KEY_NAME, &sha256_hex(&key))
                    .await?;
                generated.account_key = Some(key);
            }
            None => {}
        }
        tx.commit().await?;
        self.forget_keys();
        Ok(generated)
    }

    /// Drops every cached key: one was added, deleted or replaced, or an environment went.
    pub(crate) fn forget_keys(&self) {
        self.callers.invalidate_all();
    }

    pub async fn list(&self, name: Option<&EnvironmentName>) -> EngineResult<Vec<Environment>> {
        let records = self
            .store
            .list_environments(name.map(EnvironmentName::as_str))
            .await?;
        Ok(records.into_iter().map(Environment::from_record).collect())
    }

    pub async fn get(&self, id: &EnvironmentId) -> EngineResult<Environment> {
        self.store
            .environment(id.as_str())
            .await?
            .map(Environment::from_record)
            .ok_or_else(|| unknown_environment(id))
    }

    pub async fn by_name(&self, name: &str) -> EngineResult<Option<Environment>> {
        Ok(self
            .store
            .environment_by_name(name)
            .await?
            .map(Environment::from_record))
    }

    pub async fn create(
        &self,
        name: &EnvironmentName,
        is_production: bool,
    ) -> EngineResult<Environment> {
        let mut tx = self.store.begin().await?;
        let created = tx.create_environment(name.as_str(), is_production).await?;
        let Some(created) = created else {
            return Err(EngineError::new(
                ErrorCode::DuplicateEnvironment,
                format!("An environment named `{}` already exists.", name.as_str()),
            ));
        };
        tx.set_webhook_signing_key(&created.id, &self.cipher.seal(&generate_secret()))
            .await?;
        tx.commit().await?;
        Ok(Environment::from_record(created))
    }

    /// Deletes an environment with everything in it; production environments are kept.
    pub async fn delete(&self, id: &EnvironmentId) -> EngineResult<()> {
        let environment = self.get(id).await?;
        if environment.is_production {
            return Err(EngineError::new(
                ErrorCode::CannotDeleteProdEnvironment,
                "Cannot delete a production environment.",
            ));
        }
        let mut tx = self.store.begin().await?;
        if !tx.delete_environment(id.as_str()).await? {
            return Err(unknown_environment(id));
        }
        tx.commit().await?;
        self.forget_keys();
        Ok(())
    }

    pub async fn keys(&self, environment: &EnvironmentId) -> EngineResult<Vec<ApiKey>> {
        self.get(environment).await?;
        let keys = self.store.api_keys(Some(environment.as_str())).await?;
        Ok(keys.into_iter().map(ApiKey::from_record).collect())
    }

    pub async fn key(&self, environment: &EnvironmentId, id: &ApiKeyId) -> EngineResult<ApiKey> {
        self.keys(environment)
            .await?
            .into_iter()
            .find(|k| &k.id == id)
            .ok_or_else(|| {
                EngineError::new(
                    ErrorCode::UnknownApiKey,
                    format!("Environment `{environment}` has no API key `{id}`."),
                )
            })
    }

    /// A new key for the environment; its secret is returned this once and stored hashed.
    pub async fn create_key(
        &self,
        environment: &EnvironmentId,
        display_name: &str,
    ) -> EngineResult<NewApiKey> {
        self.get(environment).await?;
        let secret = generate_secret();
        let mut tx = self.store.begin().await?;
        let record = tx
            .create_api_key(
                Some(environment.as_str()),
                display_name,
                &sha256_hex(&secret),
            )
            .await?;
        tx.commit().await?;
        Ok(NewApiKey {
            key: ApiKey::from_record(record),
            secret,
        })
    }

    /// Deletes a key; calls with it fail from now on (within a few seconds in other
    /// processes, whose key caches expire).
    pub async fn delete_key(&self, environment: &EnvironmentId, id: &ApiKeyId) -> EngineResult<()> {
        self.get(environment).await?;
        let mut tx = self.store.begin().await?;
        if !tx
            .delete_api_key(Some(environment.as_str()), id.as_str())
            .await?
        {
            return Err(EngineError::new(
                ErrorCode::UnknownApiKey,
                format!("Environment `{environment}` has no API key `{id}`."),
            ));
        }
        tx.commit().await?;
        self.forget_keys();
        Ok(())
    }

    pub async fn variables(
        &self,
        environment: &EnvironmentId,
    ) -> EngineResult<Vec<EnvironmentVariable>> {
        let record = self
            .store
            .environment(environment.as_str())
            .await?
            .ok_or_else(|| unknown_environment(environment))?;
        let Some(sealed) = record.variables_enc else {
            return Ok(Vec::new());
        };
        let text = self.cipher.open(&sealed)?;
        serde_json::from_str(&text)
            .map_err(|e| EngineError::internal("reading environment variables", e))
    }

    /// Replaces the environment's variables (sealed at rest: they often hold secrets).
    pub async fn set_variables(
        &self,
        environment: &EnvironmentId,
        variables: &[EnvironmentVariable],
    ) -> EngineResult<()> {
        self.get(environment).await?;
        let text = serde_json::to_string(variables)
            .map_err(|e| EngineError::internal("writing environment variables", e))?;
        let mut tx = self.store.begin().await?;
        tx.set_environment_variables(environment.as_str(), &self.cipher.seal(&text))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new webhook signing key for the environment; the old one stops being used at once.
    pub async fn rotate_webhook_signing_key(
        &self,
        environment: &EnvironmentId,
    ) -> EngineResult<String> {
        self.get(environment).await?;
        let key = generate_secret();
        let mut tx = self.store.begin().await?;
        tx.set_webhook_signing_key(environment.as_str(), &self.cipher.seal(&key))
            .await?;
        tx.commit().await?;
        Ok(key)
    }
}
