//! `chainlake dremio bootstrap` against a live Dremio, when `CHAINLAKE_TEST_DREMIO_URL` names
//! one (none can run on the development machine, so the test is ignored by default: run it
//! with `-- --ignored bootstrap_is_idempotent_on_a_live_dremio`).
//! The lake is the S3 of `CHAINLAKE_TEST_S3` as Dremio reaches it
//! (`CHAINLAKE_TEST_DREMIO_S3_ENDPOINT`, default the same host and port); the password comes
//! from `CHAINLAKE_TEST_DREMIO_PASSWORD`. Bootstrap twice: the second run creates nothing.

use crate::common;

use chainlake::dremio::Outcome;
use chainlake::pipeline;

// The requests themselves are unit-tested in src/dremio/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a live Dremio: set CHAINLAKE_TEST_DREMIO_URL and run with --ignored"]
async fn bootstrap_is_idempotent_on_a_live_dremio() {
    let url = std::env::var("CHAINLAKE_TEST_DREMIO_URL")
        .expect("CHAINLAKE_TEST_DREMIO_URL names the Dremio of this run");
    let mut cfg = common::s3_config("dremio");
    cfg.dremio.url = url;
    cfg.dremio.password_env = "CHAINLAKE_TEST_DREMIO_PASSWORD".into();
    cfg.dremio.s3_endpoint = common::env_or("CHAINLAKE_TEST_DREMIO_S3_ENDPOINT", "");
    pipeline::medallion(&cfg).await.unwrap(); // every Silver and Gold table exists (empty)
    let first = pipeline::dremio_bootstrap(&cfg).await.unwrap();
    println!("{first:?}");
    let again = pipeline::dremio_bootstrap(&cfg).await.unwrap();
    assert!(
        again.iter().all(|(_, o)| matches!(o, Outcome::Existed | Outcome::NotInLake)),
        "a second bootstrap changes nothing: {again:?}"
    );
}
