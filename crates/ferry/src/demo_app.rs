//! The demo's stand-in for the customer's app: a small HTTP server that receives Ferry's
//! webhooks, checks each one's `X-Nango-Hmac-Sha256` signature with the environment's signing
//! key as an app would, and prints a line for it, so a newcomer sees a change in the emulator
//! arrive as a webhook.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::Value;
use sha2::Sha256;

/// The path webhooks are sent to.
pub const WEBHOOK_PATH: &str = "/webhooks";

/// Serves the app on `listener` until the process ends; `signing_key` checks signatures.
pub fn spawn(listener: tokio::net::TcpListener, signing_key: String) {
    let app = Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .with_state(std::sync::Arc::new(signing_key));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the demo app's webhook receiver stopped");
        }
    });
}

async fn receive(
    State(signing_key): State<std::sync::Arc<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let signed = headers
        .get("x-nango-hmac-sha256")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| hex::decode(v).ok())
        .is_some_and(|signature| {
            let mut mac = <Hmac<Sha256>>::new_from_slice(signing_key.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(&body);
            mac.verify_slice(&signature).is_ok()
        });
    if !signed {
        println!("[app] refused a webhook whose signature does not match");
        return StatusCode::UNAUTHORIZED;
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(webhook) => println!("[app] webhook (signature checked): {}", describe(&webhook)),
        Err(_) => println!("[app] a signed webhook that is not JSON"),
    }
    StatusCode::OK
}

/// One line for a webhook: what happened, to which connection.
fn describe(webhook: &Value) -> String {
    let text = |key: &str| webhook[key].as_str().unwrap_or("?").to_string();
    match webhook["type"].as_str() {
        Some("sync") if webhook["success"] == true => {
            let counts = &webhook["responseResults"];
            format!(
                "sync `{}` of connection `{}`: {} {} added, {} updated, {} deleted",
                text("syncName"),
                text("connectionId"),
                text("model"),
                counts["added"],
                counts["updated"],
                counts["deleted"],
            )
        }
        Some("sync") => format!(
            "sync `{}` of connection `{}` failed: {}",
            text("syncName"),
            text("connectionId"),
            webhook["error"]["description"].as_str().unwrap_or("?"),
        ),
        Some("auth") => format!(
            "auth {} of connection `{}` {}",
            text("operation"),
            text("connectionId"),
            if webhook["success"] == true {
                "succeeded"
            } else {
                "failed"
            },
        ),
        Some(other) => format!("{other} for connection `{}`", text("connectionId")),
        None => "a webhook without a type".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn webhooks_are_described_by_kind() {
        let sync = json!({"type": "sync", "success": true, "syncName": "content-metadata", "connectionId": "demo",
            "model": "ContentMetadata", "responseResults": {"added": 1, "updated": 2, "deleted": 0}});
        assert_eq!(
            describe(&sync),
            "sync `content-metadata` of connection `demo`: ContentMetadata 1 added, 2 updated, 0 deleted"
        );
        let auth =
            json!({"type": "auth", "operation": "creation", "connectionId": "c1", "success": true});
        assert_eq!(
            describe(&auth),
            "auth creation of connection `c1` succeeded"
        );
    }
}
