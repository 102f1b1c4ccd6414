//! A new schedule's row, and the variant every sync has. A leaf, so that the connection
//! that brings a schedule with it can make it without depending on the runner.

use chrono::Utc;
use ferry_provider::SyncSpec;

use crate::storage::SyncScheduleRecord;
use crate::time::ts;

/// The variant every schedule has; others are made with `POST /sync/{name}/variant/{variant}`.
pub const BASE_VARIANT: &str = "base";

/// A new schedule: due now, full, paused unless the sync starts by itself.
pub(crate) fn new_schedule(
    environment: &str,
    connection_row: &str,
    key: &str,
    connection: &str,
    spec: &SyncSpec,
    variant: &str,
) -> SyncScheduleRecord {
    let now = ts(Utc::now());
    SyncScheduleRecord {
        id: uuid::Uuid::new_v4().to_string(),
        environment_id: environment.to_string(),
        connection_row: connection_row.to_string(),
        integration_key: key.to_string(),
        connection_id: connection.to_string(),
        sync_name: spec.name.to_string(),
        variant: variant.to_string(),
        paused: !spec.auto_start,
        next_run_at: now.clone(),
        full_run: true,
        created_at: now,
        ..SyncScheduleRecord::default()
    }
}
