//! Writers that share a Delta table (sink replicas, a compaction, a second deployment by
//! mistake) commit at the same moment, on the local lake and on the S3 server. There is no
//! DynamoDB: on S3 the server's conditional put (`If-None-Match`) decides which writer gets
//! a log version, and the others retry on the next one. No commit is lost or overwritten:
//! every writer's rows and `txn` versions are in the table afterwards.

use crate::common;

use std::sync::Arc;

use chainlake::config::Config;
use chainlake_medallion::lake::txn::txn_version;
use chainlake_medallion::lake::{Lake, Layer};
use deltalake::arrow::array::{Int64Array, RecordBatch};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::{CommitInfo, Transaction};
use futures::TryStreamExt;

const WRITERS: i64 = 4;
const COMMITS: i64 = 8;
const ROWS: i64 = 50;

fn batch(schema: &SchemaRef, writer: i64, commit: i64) -> RecordBatch {
    let n = ROWS as usize;
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![writer; n])),
            Arc::new(Int64Array::from(vec![commit; n])),
            Arc::new(Int64Array::from((0..ROWS).collect::<Vec<_>>())),
        ],
    )
    .unwrap()
}

async fn writers_race(cfg: Config) {
    let lake = Lake::new(&cfg.lake).unwrap();
    let url = lake.table_url("devnet", Layer::Bronze, "race").unwrap();
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("writer", DataType::Int64, false),
        Field::new("commit", DataType::Int64, false),
        Field::new("n", DataType::Int64, false),
    ]));
    let created = lake.append(lake.open(&url).await.unwrap(), vec![batch(&schema, -1, 0)], vec![], &[]).await;
    assert_eq!(created.unwrap().version(), Some(0));

    // Each writer holds its own table handle, as a separate process would. All read
    // version 0 before any of them commits, so their first commits surely collide.
    let mut handles = Vec::new();
    for _ in 0..WRITERS {
        handles.push(lake.open(&url).await.unwrap());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (w, mut table) in (0..WRITERS).zip(handles) {
        let (lake, schema) = (lake.clone(), schema.clone());
        tasks.spawn(async move {
            for c in 0..COMMITS {
                let txn = Transaction::new(format!("race-{w}"), c);
                table = lake.append(table, vec![batch(&schema, w, c)], vec![txn], &[]).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }

    let table = lake.open(&url).await.unwrap();
    assert_eq!(table.version(), Some((WRITERS * COMMITS) as u64), "one log version per commit");
    for w in 0..WRITERS {
        assert_eq!(txn_version(&table, &format!("race-{w}")).await.unwrap(), Some(COMMITS - 1), "writer {w}");
    }
    // delta-rs counts the versions a commit lost before it got one.
    let history: Vec<_> = table.history(None).try_collect().await.unwrap();
    let retries = |c: &CommitInfo| {
        c.info.get("operationMetrics").and_then(|m| m.get("num_retries")).and_then(|n| n.as_u64())
    };
    let raced = history.iter().filter(|c| retries(c).unwrap_or(0) > 0).count();
    assert!(raced >= (WRITERS - 1) as usize, "the writers raced: {raced} retried commits");
    println!("{raced} commits lost a race and were retried on a later version");
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("race", table.table_provider().await.unwrap()).unwrap();
    let sql = "SELECT writer, count(*) AS rows, count(DISTINCT \"commit\") AS commits FROM race GROUP BY writer ORDER BY writer";
    let got = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let rows = chainlake::pipeline::rows(&got).unwrap();
    let mut want = vec![vec!["-1".to_owned(), ROWS.to_string(), "1".to_owned()]];
    want.extend((0..WRITERS).map(|w| vec![w.to_string(), (ROWS * COMMITS).to_string(), COMMITS.to_string()]));
    assert_eq!(rows, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_local_lake() {
    let dir = tempfile::tempdir().unwrap();
    writers_race(common::test_config("race", dir.path().to_str().unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_s3_server() {
    writers_race(common::s3_config("race-s3")).await;
}
