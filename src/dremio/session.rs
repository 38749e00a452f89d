//! The bootstrap sequence and the metadata refresher, over any [`Api`] (so that unit tests
//! script Dremio's answers).

use std::future::Future;
use std::pin::Pin;

use chainlake_medallion::config::LakeConfig;
use chainlake_medallion::jobs::incremental::JobReport;
use chainlake_medallion::jobs::schedule::AfterRun;
use tokio::sync::Mutex;

use super::api::{Api, ApiResponse, Http};
use super::error::DremioError;
use super::requests::{self, ApiRequest, S3Access};
use super::settings::DremioConfig;

/// What bootstrap found or did for one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Existed,
    /// A table folder became a Delta dataset.
    Promoted,
    /// The table has not been written yet (Dremio sees no folder): the next bootstrap promotes it.
    NotInLake,
}

/// Everything bootstrap needs, resolved from the config (secrets included: no `Debug`).
pub struct BootstrapPlan {
    pub user: String,
    pub password: String,
    pub source: String,
    pub bucket: String,
    /// The lake's folder inside the bucket (`lake/`).
    pub prefix: String,
    pub chain: String,
    pub s3: S3Access,
    /// `(source name, endpoint)`.
    pub nessie: Option<(String, String)>,
    /// `(layer, table)` of every Silver and Gold job.
    pub tables: Vec<(String, String)>,
}

impl BootstrapPlan {
    /// From `[dremio]` and `[lake]` (the lake must be on S3), the chain's name and the jobs'
    /// tables.
    pub fn from_config(
        d: &DremioConfig,
        lake: &LakeConfig,
        chain: &str,
        tables: Vec<(String, String)>,
    ) -> Result<Self, DremioError> {
        let bad = |key: &'static str, reason: String| DremioError::Config { key, reason };
        let root = url::Url::parse(&lake.root)
            .ok()
            .filter(|u| matches!(u.scheme(), "s3" | "s3a"))
            .ok_or_else(|| {
                bad(
                    "lake.root",
                    format!("{} is not on S3: Dremio reads the lake through an S3 source", lake.root),
                )
            })?;
        let bucket = root.host_str().unwrap_or_default().to_owned();
        let option = |name: &str| {
            lake.storage_options
                .iter()
                .find(|(k, _)| k.to_uppercase().replace('-', "_") == name)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(name).ok())
        };
        let endpoint_url = option("AWS_ENDPOINT_URL").unwrap_or_default();
        let parsed = url::Url::parse(&endpoint_url).ok();
        let endpoint = if d.s3_endpoint.is_empty() {
            parsed
                .as_ref()
                .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
                .ok_or_else(|| {
                    bad(
                        "dremio.s3-endpoint",
                        "not set, and lake.storage-options has no aws-endpoint-url".into(),
                    )
                })?
        } else {
            d.s3_endpoint.clone()
        };
        let secure = parsed.is_some_and(|u| u.scheme() == "https");
        let access_key = option("AWS_ACCESS_KEY_ID")
            .ok_or_else(|| bad("lake", "no AWS_ACCESS_KEY_ID for Dremio's S3 source".into()))?;
        let secret_key = option("AWS_SECRET_ACCESS_KEY")
            .ok_or_else(|| bad("lake", "no AWS_SECRET_ACCESS_KEY for Dremio's S3 source".into()))?;
        Ok(BootstrapPlan {
            user: d.user.clone(),
            password: d.password()?,
            source: d.source.clone(),
            bucket,
            prefix: root.path().trim_matches('/').to_owned(),
            chain: chain.to_owned(),
            s3: S3Access { endpoint, access_key, secret_key, secure },
            nessie: (!d.nessie_url.is_empty()).then(|| (d.nessie_source.clone(), d.nessie_url.clone())),
            tables,
        })
    }

    pub fn table_path(&self, layer: &str, table: &str) -> Vec<String> {
        requests::table_path(&self.source, &self.bucket, &self.prefix, &self.chain, layer, table)
    }
}

fn unexpected(req: &ApiRequest, r: &ApiResponse) -> DremioError {
    let body = r.body.to_string().chars().take(300).collect();
    DremioError::Status { request: format!("{req:?}"), status: r.status, body }
}

async fn send_ok(api: &impl Api, req: &ApiRequest, auth: Option<&str>) -> Result<ApiResponse, DremioError> {
    let r = api.send(req, auth).await?;
    if (200..300).contains(&r.status) {
        Ok(r)
    } else {
        Err(unexpected(req, &r))
    }
}

/// Logs in; returns the `Authorization` header value.
async fn login(api: &impl Api, user: &str, password: &str) -> Result<String, DremioError> {
    let req = requests::login(user, password);
    let r = send_ok(api, &req, None).await?;
    let token = r.body["token"].as_str().ok_or_else(|| DremioError::Answer {
        request: format!("{req:?}"),
        reason: "no token in the answer".into(),
    })?;
    Ok(requests::authorization(token))
}

/// Creates the source named `name` with `create` unless the catalog already has it.
async fn ensure_source(
    api: &impl Api,
    auth: &str,
    name: &str,
    create: ApiRequest,
) -> Result<Outcome, DremioError> {
    let lookup = requests::by_path(&[name.to_owned()]);
    let r = api.send(&lookup, Some(auth)).await?;
    match r.status {
        200 => Ok(Outcome::Existed),
        404 => {
            let created = api.send(&create, Some(auth)).await?;
            // 409: another bootstrap created it since we looked.
            match created.status {
                200..=299 => Ok(Outcome::Created),
                409 => Ok(Outcome::Existed),
                _ => Err(unexpected(&create, &created)),
            }
        }
        _ => Err(unexpected(&lookup, &r)),
    }
}

/// Promotes one table folder to a Delta dataset unless it is one already.
async fn ensure_dataset(api: &impl Api, auth: &str, path: &[String]) -> Result<Outcome, DremioError> {
    let lookup = requests::by_path(path);
    let r = api.send(&lookup, Some(auth)).await?;
    match (r.status, r.body["entityType"].as_str()) {
        (404, _) => Ok(Outcome::NotInLake),
        (200, Some("dataset")) => Ok(Outcome::Existed),
        (200, Some("folder")) => {
            let id = r.body["id"].as_str().ok_or_else(|| DremioError::Answer {
                request: format!("{lookup:?}"),
                reason: "a folder without an id".into(),
            })?;
            let promote = requests::promote_delta(id, path);
            let p = api.send(&promote, Some(auth)).await?;
            match p.status {
                200..=299 => Ok(Outcome::Promoted),
                409 => Ok(Outcome::Existed),
                _ => Err(unexpected(&promote, &p)),
            }
        }
        _ => Err(unexpected(&lookup, &r)),
    }
}

/// Bootstraps a Dremio (idempotent): first user, login, sources, every table promoted.
/// Returns what it found or did, in order.
pub async fn bootstrap(api: &impl Api, plan: &BootstrapPlan) -> Result<Vec<(String, Outcome)>, DremioError> {
    let mut report = Vec::new();
    let first =
        requests::first_user(&plan.user, &plan.password, chainlake_wire::clock::unix_seconds() * 1000);
    let r = api.send(&first, None).await?;
    // A server that has users answers 4xx: bootstrapped before, by us or by its operator.
    let outcome = match r.status {
        200..=299 => Outcome::Created,
        400..=499 => Outcome::Existed,
        _ => return Err(unexpected(&first, &r)),
    };
    report.push((format!("user {}", plan.user), outcome));
    let auth = login(api, &plan.user, &plan.password).await?;
    let s3 = requests::s3_source(&plan.source, &plan.bucket, &plan.s3);
    report.push((format!("source {}", plan.source), ensure_source(api, &auth, &plan.source, s3).await?));
    if let Some((name, endpoint)) = &plan.nessie {
        let create = requests::nessie_source(name, endpoint, &plan.bucket, &plan.s3);
        report.push((format!("source {name}"), ensure_source(api, &auth, name, create).await?));
    }
    for (layer, table) in &plan.tables {
        let path = plan.table_path(layer, table);
        report.push((requests::quoted(&path), ensure_dataset(api, &auth, &path).await?));
    }
    Ok(report)
}

/// Refreshes the metadata of the tables a medallion run committed to, logged in once (again
/// after a 401). Failures are logged and counted, never fail the run.
pub struct Refresher<A: Api = Http> {
    api: A,
    plan: BootstrapPlan,
    auth: Mutex<Option<String>>,
}

impl<A: Api + Send> Refresher<A> {
    pub fn new(api: A, plan: BootstrapPlan) -> Self {
        Refresher { api, plan, auth: Mutex::new(None) }
    }

    async fn refresh_one(&self, path: &[String]) -> Result<(), DremioError> {
        let req = requests::refresh_metadata(path);
        let mut auth = self.auth.lock().await;
        let mut r = self.send_logged_in(&req, &mut auth).await?;
        if r.status == 401 {
            *auth = None; // the token expired: log in again, once
            r = self.send_logged_in(&req, &mut auth).await?;
        }
        if (200..300).contains(&r.status) {
            Ok(())
        } else {
            Err(unexpected(&req, &r))
        }
    }

    /// Sends `req` with the session's token, logging in first when there is none.
    async fn send_logged_in(
        &self,
        req: &ApiRequest,
        auth: &mut Option<String>,
    ) -> Result<ApiResponse, DremioError> {
        if auth.is_none() {
            *auth = Some(login(&self.api, &self.plan.user, &self.plan.password).await?);
        }
        self.api.send(req, auth.as_deref()).await
    }

    /// Refreshes every table of `reports` that got a new version.
    pub async fn refresh(&self, reports: &[JobReport]) -> usize {
        let mut refreshed = 0;
        for r in reports.iter().filter(|r| r.version.is_some()) {
            let Some((layer, table)) = r.table.split_once('.') else { continue };
            let path = self.plan.table_path(layer, table);
            let outcome = match self.refresh_one(&path).await {
                Ok(()) => {
                    refreshed += 1;
                    "ok"
                }
                Err(e) => {
                    tracing::warn!(table = %r.table, error = %e, "dremio metadata refresh failed (the next commit retries)");
                    "failed"
                }
            };
            metrics::counter!(chainlake_medallion::metrics::DREMIO_REFRESHES, "table" => r.table.clone(), "outcome" => outcome)
                .increment(1);
        }
        refreshed
    }
}

impl<A: Api + Send> AfterRun for Refresher<A> {
    fn after_run<'a>(&'a self, reports: &'a [JobReport]) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            self.refresh(reports).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex as StdMutex;

    use serde_json::{json, Value};

    use super::*;
    use crate::dremio::Method;

    /// Answers by (method, path prefix) from a script, recording every request.
    #[derive(Default)]
    struct Fake {
        script: StdMutex<VecDeque<(Method, &'static str, u16, Value)>>,
        seen: StdMutex<Vec<(ApiRequest, Option<String>)>>,
    }

    impl Fake {
        fn new(script: Vec<(Method, &'static str, u16, Value)>) -> Self {
            Fake { script: StdMutex::new(script.into()), seen: StdMutex::default() }
        }
        fn seen(&self) -> Vec<(ApiRequest, Option<String>)> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl Api for Fake {
        async fn send(&self, req: &ApiRequest, auth: Option<&str>) -> Result<ApiResponse, DremioError> {
            self.seen.lock().unwrap().push((req.clone(), auth.map(str::to_owned)));
            let (method, prefix, status, body) =
                self.script.lock().unwrap().pop_front().expect("a scripted answer");
            assert_eq!(req.method, method, "{req:?}");
            assert!(req.path.starts_with(prefix), "{req:?} is not {prefix}");
            Ok(ApiResponse { status, body })
        }
    }

    fn plan() -> BootstrapPlan {
        BootstrapPlan {
            user: "admin".into(),
            password: "pw".into(),
            source: "chainlake".into(),
            bucket: "lake-bucket".into(),
            prefix: "lake".into(),
            chain: "ethereum".into(),
            s3: S3Access {
                endpoint: "minio:9000".into(),
                access_key: "ak".into(),
                secret_key: "sk".into(),
                secure: false,
            },
            nessie: Some(("nessie".into(), "http://nessie:19120/api/v2".into())),
            tables: vec![
                ("silver".into(), "blocks".into()),
                ("gold".into(), "gas_daily".into()),
                ("gold".into(), "never".into()),
            ],
        }
    }

    #[tokio::test]
    async fn a_fresh_server_gets_a_user_both_sources_and_every_written_table() {
        use Method::{Get, Post, Put};
        let folder = |id: &str| json!({"entityType": "folder", "id": id});
        let fake = Fake::new(vec![
            (Put, "/apiv2/bootstrap/firstuser", 200, json!({})),
            (Post, "/apiv2/login", 200, json!({"token": "t0k"})),
            (Get, "/api/v3/catalog/by-path/chainlake", 404, Value::Null),
            (Post, "/api/v3/catalog", 200, json!({"id": "s1"})),
            (Get, "/api/v3/catalog/by-path/nessie", 404, Value::Null),
            (Post, "/api/v3/catalog", 200, json!({"id": "s2"})),
            (
                Get,
                "/api/v3/catalog/by-path/chainlake/lake-bucket/lake/ethereum/silver/blocks",
                200,
                folder("f1"),
            ),
            (Post, "/api/v3/catalog/f1", 200, json!({})),
            (
                Get,
                "/api/v3/catalog/by-path/chainlake/lake-bucket/lake/ethereum/gold/gas_daily",
                200,
                folder("f2"),
            ),
            (Post, "/api/v3/catalog/f2", 200, json!({})),
            (Get, "/api/v3/catalog/by-path/chainlake/lake-bucket/lake/ethereum/gold/never", 404, Value::Null),
        ]);
        let report = bootstrap(&fake, &plan()).await.unwrap();
        let outcomes: Vec<Outcome> = report.iter().map(|(_, o)| *o).collect();
        use Outcome::*;
        assert_eq!(outcomes, [Created, Created, Created, Promoted, Promoted, NotInLake]);
        let seen = fake.seen();
        assert_eq!(seen[0].1, None, "first user and login go without a token");
        assert!(
            seen[2..].iter().all(|(_, a)| a.as_deref() == Some("_dremiot0k")),
            "then every request carries it"
        );
        assert_eq!(seen[3].0.body.as_ref().unwrap()["type"], "S3");
        assert_eq!(seen[5].0.body.as_ref().unwrap()["type"], "NESSIE");
        assert_eq!(seen[7].0.body.as_ref().unwrap()["format"]["type"], "Delta");
    }

    #[tokio::test]
    async fn a_second_bootstrap_changes_nothing() {
        use Method::{Get, Post, Put};
        let dataset = json!({"entityType": "dataset", "id": "d"});
        let fake = Fake::new(vec![
            (
                Put,
                "/apiv2/bootstrap/firstuser",
                400,
                json!({"errorMessage": "First user can only be created when no user is already registered"}),
            ),
            (Post, "/apiv2/login", 200, json!({"token": "t"})),
            (Get, "/api/v3/catalog/by-path/chainlake", 200, json!({"entityType": "source"})),
            (Get, "/api/v3/catalog/by-path/nessie", 200, json!({"entityType": "source"})),
            (Get, "/api/v3/catalog/by-path/chainlake/", 200, dataset.clone()),
            (Get, "/api/v3/catalog/by-path/chainlake/", 200, dataset),
            (Get, "/api/v3/catalog/by-path/chainlake/", 404, Value::Null),
        ]);
        let report = bootstrap(&fake, &plan()).await.unwrap();
        assert!(report.iter().all(|(_, o)| matches!(o, Outcome::Existed | Outcome::NotInLake)), "{report:?}");
        assert!(
            fake.seen().iter().all(|(r, _)| r.method != Method::Post || r.path == "/apiv2/login"),
            "nothing created"
        );
    }

    #[tokio::test]
    async fn a_refused_login_is_an_error_naming_the_request_not_the_password() {
        let fake = Fake::new(vec![
            (Method::Put, "/apiv2/bootstrap/firstuser", 400, Value::Null),
            (Method::Post, "/apiv2/login", 401, json!({"errorMessage": "Login failed"})),
        ]);
        let err = bootstrap(&fake, &plan()).await.unwrap_err().to_string();
        assert!(err.contains("/apiv2/login") && err.contains("401"), "{err}");
        assert!(!err.contains("pw\""), "{err}");
    }

    #[tokio::test]
    async fn refresh_logs_in_once_and_again_after_a_401() {
        let ok = json!({"id": "job"});
        let fake = Fake::new(vec![
            (Method::Post, "/apiv2/login", 200, json!({"token": "a"})),
            (Method::Post, "/api/v3/sql", 200, ok.clone()),
            (Method::Post, "/api/v3/sql", 401, Value::Null),
            (Method::Post, "/apiv2/login", 200, json!({"token": "b"})),
            (Method::Post, "/api/v3/sql", 200, ok),
        ]);
        let refresher = Refresher::new(fake, plan());
        let report = |table: &str, version: Option<u64>| JobReport {
            table: table.into(),
            scope: "days",
            partitions: Some(1),
            rows_read: 1,
            rows: 1,
            version,
            millis: 1,
        };
        let reports = [
            report("silver.blocks", Some(3)),
            report("gold.unchanged", None),
            report("gold.gas_daily", Some(9)),
        ];
        assert_eq!(refresher.refresh(&reports).await, 2, "the unchanged table is not refreshed");
        let seen = refresher.api.seen();
        let sql: Vec<String> = seen
            .iter()
            .filter(|(r, _)| r.path == "/api/v3/sql")
            .map(|(r, _)| r.body.as_ref().unwrap()["sql"].to_string())
            .collect();
        assert!(sql[0].contains("\\\"silver\\\".\\\"blocks\\\" REFRESH METADATA"), "{sql:?}");
        assert_eq!(seen.last().unwrap().1.as_deref(), Some("_dremiob"), "retried with the new token");
    }
}
