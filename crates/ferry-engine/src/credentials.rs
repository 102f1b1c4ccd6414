//! Connection credentials, as Nango shapes them (`{type:"OAUTH2", access_token, …, raw}`),
//! sealed with the store's cipher before they are written.

use crate::crypto::Cipher;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{EngineError, EngineResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(rename = "type")]
    pub kind: String,
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// RFC 3339.
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

    pub(crate) fn seal(&self, cipher: &Cipher) -> String {
        cipher.seal(&serde_json::to_string(self).expect("credentials serialise"))
    }

    pub(crate) fn open(cipher: &Cipher, sealed: &str) -> EngineResult<Credentials> {
        let text = cipher.open(sealed)?;
        serde_json::from_str(&text)
            .map_err(|e| EngineError::internal("reading stored credentials", e))
    }
}
