//! S3 credentials from an AWS shared-credentials file (no keys in the config or environment),
//! against a moto that checks every request against its IAM: the profile with the user's key
//! writes Bronze rows, a profile with an unknown key is refused.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

fn bench_sink(profile: &str, credentials: &str, home: &Path) -> Output {
    common::require(&[common::Service::S3Auth]);
    let endpoint = common::env_or("CHAINLAKE_TEST_S3_AUTH", "http://127.0.0.1:9001");
    let bucket = common::env_or("CHAINLAKE_TEST_BUCKET", "chainlake");
    let root = format!("s3://{bucket}/{}", common::unique("credentials"));
    Command::new(env!("CARGO_BIN_EXE_chainlake"))
        .args(["bench", "sink", "--no-broker", "--rows", "3000", "--s3-root", &root])
        .env("CHAINLAKE__LAKE__ROOT", home.join("lake"))
        .env("CHAINLAKE__METRICS__LISTEN", "")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_SHARED_CREDENTIALS_FILE", credentials)
        .env("AWS_PROFILE", profile)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap()
}

#[test]
fn s3_credentials_come_from_the_shared_credentials_file() {
    let credentials = std::env::var("CHAINLAKE_TEST_S3_AUTH_CREDENTIALS").unwrap_or_else(|_| {
        format!("{}/.cache/chainlake/run/moto-auth.credentials", common::env_or("HOME", "/root"))
    });
    assert!(Path::new(&credentials).is_file(), "{credentials} missing: run infra/local/up.sh");
    let home = tempfile::tempdir().unwrap();

    let ok = bench_sink("chainlake-test", &credentials, home.path());
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&ok.stderr));
    assert!(stdout.contains("| sink only | s3 | 3000 |"), "{stdout}");

    let refused = bench_sink("wrong", &credentials, home.path());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "an unknown key must be refused");
    assert!(stderr.contains("InvalidAccessKeyId") || stderr.contains("403"), "{stderr}");
    // The secret never reaches the logs.
    let secret = std::fs::read_to_string(&credentials).unwrap();
    let secret = secret.lines().find_map(|l| l.strip_prefix("aws_secret_access_key = ")).unwrap();
    assert!(!String::from_utf8_lossy(&ok.stderr).contains(secret) && !stderr.contains(secret));
}
