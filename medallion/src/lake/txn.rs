//! Checkpoints kept inside Delta commits: the `txn` actions (app id → version) a writer adds to
//! its commit — the sink's Kafka offsets, a job's input versions. Imports nothing of the crate
//! but its error.

use deltalake::DeltaTable;

use crate::Result;

/// The last offset a table holds for `app_id`, from its Delta log.
pub async fn txn_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>> {
    let Ok(state) = table.snapshot() else { return Ok(None) };
    state
        .transaction_version(table.log_store().as_ref(), app_id)
        .await
        .map_err(crate::Error::delta("read txn", table.table_url()))
}
