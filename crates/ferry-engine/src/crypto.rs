//! Encryption of secrets at rest (credentials, client secrets, webhook secrets, variables)
//! with AES-256-GCM under the operator's `FERRY_ENCRYPTION_KEY`, and the hashes API keys are
//! stored as. Secrets are sealed here before they reach storage and opened only here.
//!
//! A sealed value is `v1:` followed by base64 of a fresh 96-bit nonce and the ciphertext, so a
//! value never repeats for the same plaintext and the format can change with a new prefix.

use aes_gcm::aead::{Aead, Generate, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

/// Why a key or a sealed value is unusable.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("{0}")]
    Key(String),
    #[error(
        "a stored secret could not be decrypted: is FERRY_ENCRYPTION_KEY the key it was written with?"
    )]
    Decrypt,
}

#[derive(Clone)]
pub struct Cipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    /// From the base64 text of 32 bytes, as `FERRY_ENCRYPTION_KEY` holds it.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::Key("FERRY_ENCRYPTION_KEY is not valid base64".into()))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            CryptoError::Key(format!(
                "FERRY_ENCRYPTION_KEY must decode to 32 bytes, not {}",
                b.len()
            ))
        })?;
        Ok(Self {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(bytes)),
        })
    }

    /// A new random key, as base64 text.
    pub fn generate_key() -> String {
        STANDARD.encode(Key::<Aes256Gcm>::generate())
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let nonce = Nonce::generate();
        let sealed = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .expect("AES-GCM encryption does not fail for in-memory input");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, CryptoError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(CryptoError::Decrypt)?;
        let raw = STANDARD.decode(body).map_err(|_| CryptoError::Decrypt)?;
        if raw.len() < NONCE_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| CryptoError::Decrypt)?;
        let plain = self
            .cipher
            .decrypt(&nonce, ciphertext)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }
}

impl Cipher {
    /// `plaintext` sealed as text fit for a URL path: URL-safe base64 of nonce and ciphertext.
    /// Whoever holds the token learns nothing of the plaintext and cannot forge another.
    pub fn seal_for_url(&self, plaintext: &str) -> String {
        let sealed = self.seal(plaintext);
        let raw = STANDARD
            .decode(&sealed[PREFIX.len()..])
            .expect("seal writes base64");
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Opens a token made by [`Cipher::seal_for_url`].
    pub fn open_from_url(&self, token: &str) -> Result<String, CryptoError> {
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| CryptoError::Decrypt)?;
        self.open(&format!("{PREFIX}{}", STANDARD.encode(raw)))
    }
}

/// Lowercase hex SHA-256, for keys and tokens that only need to be recognised.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_tokens_round_trip_and_refuse_tampering() {
        let cipher = Cipher::from_base64(&Cipher::generate_key()).unwrap();
        let token = cipher.seal_for_url("block 1");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(cipher.open_from_url(&token).unwrap(), "block 1");
        let mut tampered = token.into_bytes();
        tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
        assert!(
            cipher
                .open_from_url(&String::from_utf8(tampered).unwrap())
                .is_err()
        );
        assert!(cipher.open_from_url("not a token").is_err());
    }

    #[test]
    fn sha256_hex_matches_the_fips_180_example() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn seals_and_opens() {
        let cipher = Cipher::from_base64(&Cipher::generate_key()).unwrap();
        let a = cipher.seal("ntn_secret");
        let b = cipher.seal("ntn_secret");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("ntn_secret"));
        assert_eq!(cipher.open(&a).unwrap(), "ntn_secret");
        let other = Cipher::from_base64(&Cipher::generate_key()).unwrap();
        assert!(other.open(&a).is_err(), "another key cannot open it");
        assert!(Cipher::from_base64("c2hvcnQ=").is_err());
    }
}
