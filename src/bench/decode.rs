//! `chainlake bench decode`: decoded events/s and calls/s on one core, over the recorded
//! mainnet receipts and blocks (testdata/mainnet), repeated until at least `--logs` logs:
//! through chainlake-decode's functions (bytes in, decoded values out) and through the SQL
//! functions the medallion calls (text columns in, a struct column out).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256};
use chainlake_decode::value::unhex;
use chainlake_decode::{Registry, Status};
use chainlake_medallion::deltalake::arrow::array::{ArrayRef, RecordBatch, StringArray};
use chainlake_medallion::deltalake::arrow::datatypes::{DataType, Field, Schema};
use chainlake_medallion::deltalake::datafusion::prelude::SessionContext;
use serde_json::Value;

use crate::error::{PipelineError, Result};

/// One recorded log, as bytes and as the lake's text.
struct Log {
    address: Address,
    topics: Vec<B256>,
    data: Vec<u8>,
    text: [Option<String>; 6],
}

/// What the benchmark measured.
#[derive(Debug, Clone)]
pub struct DecodeBench {
    pub distinct_logs: usize,
    pub distinct_calls: usize,
    pub signature_db_load: Duration,
    /// (what, items, seconds, share fully decoded).
    pub rows: Vec<(String, u64, f64, f64)>,
}

impl DecodeBench {
    pub fn table(&self) -> String {
        let mut out = format!(
            "recorded mainnet: {} logs, {} contract calls (repeated); signature database indexed in {:.2} s (once per process)\n\n\
             | path | items | seconds | per second, 1 core | fully decoded |\n|---|---|---|---|---|\n",
            self.distinct_logs,
            self.distinct_calls,
            self.signature_db_load.as_secs_f64()
        );
        for (what, n, secs, share) in &self.rows {
            out.push_str(&format!(
                "| {what} | {n} | {secs:.2} | {:.0} | {:.1} % |\n",
                *n as f64 / secs.max(1e-9),
                share * 100.0
            ));
        }
        out
    }
}

fn fixtures(dir: &Path) -> Result<Vec<Value>> {
    let bad = |e: String| PipelineError::Bench(format!("fixtures in {}: {e}", dir.display()));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| bad(e.to_string()))? {
        let path = entry.map_err(|e| bad(e.to_string()))?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
            out.push(serde_json::from_str(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?);
        }
    }
    Ok(out)
}

fn log_of(v: &Value) -> Option<Log> {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let topics_text: Vec<&str> = v.get("topics")?.as_array()?.iter().filter_map(Value::as_str).collect();
    let topics = topics_text.iter().map(|t| t.parse().ok()).collect::<Option<Vec<B256>>>()?;
    let mut text: [Option<String>; 6] = Default::default();
    text[0] = Some(s("address")?.to_owned());
    for (i, t) in topics_text.iter().take(4).enumerate() {
        text[1 + i] = Some((*t).to_owned());
    }
    text[5] = Some(s("data")?.to_owned());
    Some(Log { address: s("address")?.parse().ok()?, topics, data: unhex(s("data")?)?, text })
}

/// A recorded call: its `to` and input.
type Call = (Option<Address>, Vec<u8>);

/// The logs of receipt and log files, and the calls of the blocks' transactions.
fn recorded(dir: &Path) -> Result<(Vec<Log>, Vec<Call>)> {
    let (mut logs, mut calls) = (Vec::new(), Vec::new());
    for file in fixtures(dir)? {
        for item in file.as_array().into_iter().flatten() {
            match item.get("logs").and_then(Value::as_array) {
                Some(ls) => logs.extend(ls.iter().filter_map(log_of)),
                None => logs.extend(log_of(item)),
            }
        }
        for tx in file.get("transactions").and_then(Value::as_array).into_iter().flatten() {
            let input = tx.get("input").and_then(Value::as_str).and_then(unhex).unwrap_or_default();
            if input.len() >= 4 {
                let to = tx.get("to").and_then(Value::as_str).and_then(|a| a.parse().ok());
                calls.push((to, input));
            }
        }
    }
    if logs.is_empty() || calls.is_empty() {
        return Err(PipelineError::Bench(format!("no recorded logs or calls in {}", dir.display())));
    }
    Ok((logs, calls))
}

/// Runs the benchmark: at least `min_logs` logs (and as many calls) per path.
pub async fn run(dir: &Path, registry: Arc<Registry>, min_logs: u64) -> Result<DecodeBench> {
    let (logs, calls) = recorded(dir)?;
    let started = Instant::now();
    let _ = registry.lookup("0xa9059cbb"); // indexes the signature database
    let signature_db_load = started.elapsed();
    let rounds = |n: usize| min_logs.div_ceil(n as u64).max(1);
    let mut rows = Vec::new();

    let (r, started) = (rounds(logs.len()), Instant::now());
    let mut decoded = 0u64;
    for _ in 0..r {
        for l in &logs {
            decoded += u64::from(
                registry.decode_event(Some(&l.address), &l.topics, &l.data).status == Status::Decoded,
            );
        }
    }
    let n = r * logs.len() as u64;
    rows.push(("decode_event (bytes)".into(), n, started.elapsed().as_secs_f64(), decoded as f64 / n as f64));

    let (r, started) = (rounds(calls.len()), Instant::now());
    let mut decoded = 0u64;
    for _ in 0..r {
        for (to, input) in &calls {
            let ok = registry.decode_call(to.as_ref(), input).is_some_and(|d| d.status == Status::Decoded);
            decoded += u64::from(ok);
        }
    }
    let n = r * calls.len() as u64;
    rows.push(("decode_call (bytes)".into(), n, started.elapsed().as_secs_f64(), decoded as f64 / n as f64));

    rows.push(sql_path(&logs, &registry, rounds(logs.len())).await?);
    Ok(DecodeBench { distinct_logs: logs.len(), distinct_calls: calls.len(), signature_db_load, rows })
}

/// The SQL function over one-core batches of the logs' text columns, `rounds` times.
async fn sql_path(logs: &[Log], registry: &Arc<Registry>, rounds: u64) -> Result<(String, u64, f64, f64)> {
    let ctx = SessionContext::new_with_config(
        chainlake_medallion::deltalake::datafusion::prelude::SessionConfig::new().with_target_partitions(1),
    );
    chainlake_medallion::jobs::decode_udf::register(&ctx, registry);
    let names = ["address", "topic0", "topic1", "topic2", "topic3", "data"];
    let schema = Arc::new(Schema::new(names.map(|n| Field::new(n, DataType::Utf8, true)).to_vec()));
    let columns: Vec<ArrayRef> = (0..6)
        .map(|c| Arc::new(logs.iter().map(|l| l.text[c].clone()).collect::<StringArray>()) as ArrayRef)
        .collect();
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| PipelineError::Bench(e.to_string()))?;
    let batches = vec![batch; usize::try_from(rounds).unwrap_or(1)];
    let table = chainlake_medallion::deltalake::datafusion::catalog::MemTable::try_new(schema, vec![batches])
        .map_err(|e| PipelineError::Bench(e.to_string()))?;
    ctx.register_table("logs", Arc::new(table)).map_err(|e| PipelineError::Bench(e.to_string()))?;
    let sql = "SELECT count(*) AS n, sum(CASE WHEN decode_event(address, topic0, topic1, topic2, topic3, data)['status'] = 'decoded' THEN 1 ELSE 0 END) AS ok FROM logs";
    let started = Instant::now();
    let out = ctx
        .sql(sql)
        .await
        .map_err(|e| PipelineError::Bench(e.to_string()))?
        .collect()
        .await
        .map_err(|e| PipelineError::Bench(e.to_string()))?;
    let secs = started.elapsed().as_secs_f64();
    let cell = |c: usize| -> u64 {
        out.first()
            .and_then(|b| {
                chainlake_medallion::deltalake::arrow::util::display::array_value_to_string(b.column(c), 0)
                    .ok()
            })
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let (n, ok) = (cell(0), cell(1));
    Ok(("decode_event (SQL, text columns)".into(), n, secs, ok as f64 / n.max(1) as f64))
}
