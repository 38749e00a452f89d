//! Registers the tables of one chain in a DataFusion session as `bronze.*`, `silver.*`, `gold.*`.

use std::sync::Arc;

use chainlake_decode::Registry;
use chainlake_wire::TopicKind;
use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::datafusion::catalog::{MemTable, MemorySchemaProvider, TableProvider};
use deltalake::datafusion::prelude::{SessionConfig, SessionContext};

use crate::bronze::{bronze_schema, rejected_schema, REJECTED_TABLE};
use crate::jobs::spec::Job;
use crate::lake::{Lake, Layer};
use crate::{Error, Result};

/// A session with the three layer schemas and `information_schema` (for `SHOW TABLES`),
/// decoding with the built-in ABIs.
pub fn new_session() -> Result<SessionContext> {
    new_session_with(&crate::jobs::decode_udf::builtin_registry())
}

/// A session like [`new_session`]'s, decoding with `registry`.
pub fn new_session_with(registry: &Arc<Registry>) -> Result<SessionContext> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
    add_layer_schemas(&ctx, registry)?;
    Ok(ctx)
}

fn add_layer_schemas(ctx: &SessionContext, registry: &Arc<Registry>) -> Result<()> {
    crate::jobs::udf::register(ctx);
    crate::jobs::decode_udf::register(ctx, registry);
    crate::jobs::canonical::udwf::register(ctx);
    let catalog = ctx.catalog("datafusion").ok_or(Error::Session("no default catalog"))?;
    for layer in Layer::ALL {
        catalog
            .register_schema(layer.as_str(), Arc::new(MemorySchemaProvider::new()))
            .map_err(Error::sql(format!("register schema {layer}")))?;
    }
    Ok(())
}

/// Registers (or replaces) `layer.name` with in-memory batches.
pub fn register_batches(
    ctx: &SessionContext,
    layer: Layer,
    name: &str,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<()> {
    let mem = MemTable::try_new(schema, vec![batches]).map_err(Error::sql(format!("{layer}.{name}")))?;
    register_provider(ctx, layer, name, Arc::new(mem))
}

/// A session whose memory is bounded by `memory` bytes: sorts, aggregates and joins beyond it
/// spill to the OS temp directory (or fail, for what cannot spill) instead of growing the process.
pub fn bounded_session(memory: usize, registry: &Arc<Registry>) -> Result<SessionContext> {
    use deltalake::datafusion::execution::memory_pool::FairSpillPool;
    use deltalake::datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use deltalake::datafusion::execution::SessionStateBuilder;
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(memory)))
        .build_arc()
        .map_err(Error::sql("datafusion runtime"))?;
    // Delta's planner: its writer plans custom nodes (row counts, predicate validation).
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(SessionConfig::new().with_information_schema(true))
        .with_runtime_env(runtime)
        .with_query_planner(deltalake::delta_datafusion::planner::DeltaPlanner::new())
        .build();
    let ctx = SessionContext::new_with_state(state);
    add_layer_schemas(&ctx, registry)?;
    Ok(ctx)
}

/// Registers (or replaces) `layer.name`.
pub fn register_provider(
    ctx: &SessionContext,
    layer: Layer,
    name: &str,
    provider: Arc<dyn TableProvider>,
) -> Result<()> {
    let full = format!("{layer}.{name}");
    ctx.deregister_table(full.as_str()).map_err(Error::sql(&full))?;
    ctx.register_table(full.as_str(), provider).map_err(Error::sql(&full))?;
    Ok(())
}

/// Registers the Delta table at `layer/name` if it exists; returns whether it did.
async fn register_delta(
    ctx: &SessionContext,
    lake: &Lake,
    chain: &str,
    layer: Layer,
    name: &str,
) -> Result<bool> {
    let url = lake.table_url(chain, layer, name)?;
    let table = lake.open(&url).await?;
    if table.version().is_none() {
        return Ok(false);
    }
    table.update_datafusion_session(&ctx.state()).map_err(Error::delta("register object store", &url))?;
    let provider = table.table_provider().await.map_err(Error::sql(format!("table provider {url}")))?;
    register_provider(ctx, layer, name, provider)?;
    Ok(true)
}

/// Registers every table of `chain`: Bronze tables (empty ones stand in for topics that
/// have no data yet, so SQL never fails on a missing table) and the Silver/Gold tables of `jobs`.
pub async fn register_chain(ctx: &SessionContext, lake: &Lake, chain: &str, jobs: &[Job]) -> Result<()> {
    for kind in TopicKind::ALL {
        if !register_delta(ctx, lake, chain, Layer::Bronze, kind.table_name()).await? {
            register_batches(ctx, Layer::Bronze, kind.table_name(), bronze_schema(kind), Vec::new())?;
        }
    }
    if !register_delta(ctx, lake, chain, Layer::Bronze, REJECTED_TABLE).await? {
        register_batches(ctx, Layer::Bronze, REJECTED_TABLE, rejected_schema(), Vec::new())?;
    }
    for job in jobs {
        register_delta(ctx, lake, chain, job.layer, &job.name).await?;
    }
    Ok(())
}
