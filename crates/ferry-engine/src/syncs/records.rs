//! Reading the records back: `GET /records` in order of change with an opaque cursor, and
//! `PATCH /records/prune`. A page keeps each record's stored JSON text as it is, so the API
//! writes it out without parsing it again.

use base64::Engine as _;
use chrono::{DateTime, Utc};

use super::{BASE_VARIANT, Syncs, model_key};
use crate::error::{EngineError, EngineResult, ErrorCode};
use crate::ids::{ConnectionId, EnvironmentId, IntegrationKey};
use crate::storage::{RecordQuery, RecordRow};

/// The most records one `GET /records` page holds.
pub const MAX_RECORDS_PAGE: i64 = 10_000;

/// A page of `GET /records`.
#[derive(Debug, Clone)]
pub struct RecordsPage {
    pub records: Vec<StoredRecord>,
    pub next_cursor: Option<String>,
}

/// A record as stored, with what `_nango_metadata` shows: the data stays the JSON text it
/// was stored as, so a page of records is written out without being parsed again.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub id: String,
    /// A JSON object's text; empty once pruned.
    pub data: String,
    pub first_seen_at: String,
    pub last_modified_at: String,
    pub last_action: String,
    pub deleted_at: Option<String>,
    pub pruned_at: Option<String>,
    pub cursor: String,
}

/// What `GET /records` asks, checked at the edge.
#[derive(Debug, Clone, Default)]
pub struct RecordsRequest {
    pub model: String,
    pub variant: Option<String>,
    pub modified_after: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: i64,
    /// `ADDED`, `UPDATED`, `DELETED`; empty for all.
    pub actions: Vec<String>,
    pub ids: Vec<String>,
}

/// What `PATCH /records/prune` asks.
#[derive(Debug, Clone)]
pub struct PruneRequest {
    pub model: String,
    pub variant: Option<String>,
    pub until_cursor: String,
    pub limit: i64,
}

impl Syncs {
    /// `PATCH /records/prune`: empties the data of a connection's records of one model up to
    /// a cursor (`GET /records` gave it), keeping their metadata. Returns how many, and
    /// whether more are left before the cursor.
    pub async fn prune_records(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: &ConnectionId,
        request: &PruneRequest,
    ) -> EngineResult<(u64, bool)> {
        let Some(found) = self
            .store
            .connection(environment.as_str(), key.as_str(), connection.as_str())
            .await?
        else {
            return Err(EngineError::new(
                ErrorCode::UnknownConnection,
                format!("no connection `{connection}` for `{key}`"),
            ));
        };
        let (at, id) = decode_cursor(&request.until_cursor)
            .map_err(|e| EngineError::new(ErrorCode::InvalidBody, format!("until_cursor: {e}")))?;
        let model = model_key(
            &request.model,
            request.variant.as_deref().unwrap_or(BASE_VARIANT),
        );
        let mut tx = self.store.begin().await?;
        let pruned = tx
            .prune_records(
                &found.id,
                &model,
                (&at, &id),
                &record_ts(Utc::now()),
                request.limit,
            )
            .await?;
        tx.commit().await?;
        Ok(pruned)
    }

    /// `GET /records`: a connection's records of one model, oldest change first.
    pub async fn records(
        &self,
        environment: &EnvironmentId,
        key: &IntegrationKey,
        connection: &ConnectionId,
        request: &RecordsRequest,
    ) -> EngineResult<RecordsPage> {
        let Some(found) = self
            .store
            .connection(environment.as_str(), key.as_str(), connection.as_str())
            .await?
        else {
            return Err(EngineError::new(
                ErrorCode::UnknownConnection,
                format!("no connection `{connection}` for `{key}`"),
            ));
        };
        let after = request
            .cursor
            .as_deref()
            .map(decode_cursor)
            .transpose()
            .map_err(|e| EngineError::new(ErrorCode::InvalidQueryParams, format!("cursor: {e}")))?;
        let query = RecordQuery {
            connection_row: found.id,
            model: model_key(
                &request.model,
                request.variant.as_deref().unwrap_or(BASE_VARIANT),
            ),
            modified_after: request.modified_after.map(record_ts),
            after,
            actions: request.actions.clone(),
            ids: request.ids.clone(),
            limit: request.limit,
        };
        let rows = self.store.records(&query).await?;
        let next_cursor = (rows.len() as i64 == request.limit && request.limit > 0)
            .then(|| {
                rows.last()
                    .map(|r| encode_cursor(&r.updated_at, &r.external_id))
            })
            .flatten();
        let records = rows.into_iter().map(stored_record).collect();
        Ok(RecordsPage {
            records,
            next_cursor,
        })
    }
}

/// Record times: microseconds, fixed width, so they sort and seldom tie.
pub(super) fn record_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn encode_cursor(updated_at: &str, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{updated_at}||{id}"))
}

fn decode_cursor(cursor: &str) -> Result<(String, String), String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| "not a cursor this server gave".to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "not a cursor this server gave".to_string())?;
    let (at, id) = text
        .split_once("||")
        .ok_or_else(|| "not a cursor this server gave".to_string())?;
    Ok((at.to_string(), id.to_string()))
}

fn stored_record(row: RecordRow) -> StoredRecord {
    StoredRecord {
        cursor: encode_cursor(&row.updated_at, &row.external_id),
        id: row.external_id,
        data: row.data,
        first_seen_at: row.first_seen_at,
        last_modified_at: row.updated_at,
        last_action: row.last_action,
        deleted_at: row.deleted_at,
        pruned_at: row.pruned_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_come_back_as_they_went() {
        let cursor = encode_cursor("2026-11-30T05:00:00.000001Z", "abc||def");
        assert_eq!(
            decode_cursor(&cursor),
            Ok(("2026-11-30T05:00:00.000001Z".into(), "abc||def".into()))
        );
        assert!(decode_cursor("not base64!").is_err());
    }
}
