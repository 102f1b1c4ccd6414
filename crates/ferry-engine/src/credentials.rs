//! Connection credentials, as Nango shapes them (`{type:"OAUTH2", access_token, …, raw}`),
//! sealed with the store's cipher before they are written.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Engine, EngineError, EngineResult, ErrorKind};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(rename = "type")]
    pub kind: String,
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The provider's token response as it came.
    #[serde(default)]
    pub raw: Value,
}

impl Credentials {
    pub fn oauth2(
        access_token: String,
        refresh_token: Option<String>,
        expires_at: Option<String>,
        raw: Value,
    ) -> Self {
        Credentials {
            kind: "OAUTH2".into(),
            access_token,
            refresh_token,
            expires_at,
            raw,
        }
    }
}

impl Engine {
    pub fn seal_credentials(&self, credentials: &Credentials) -> String {
        self.cipher
            .seal(&serde_json::to_string(credentials).expect("credentials serialise"))
    }

    pub fn open_credentials(&self, sealed: &str) -> EngineResult<Credentials> {
        let text = self.cipher.open(sealed)?;
        serde_json::from_str(&text).map_err(|e| {
            EngineError::new(
                ErrorKind::Internal,
                "server_error",
                format!("stored credentials are malformed: {e}"),
            )
        })
    }
}
