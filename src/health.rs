//! `/metrics`, `/healthz` and `/readyz` on `metrics.listen`, and the probes behind `/readyz`.
//!
//! `/healthz` answers 200 while the process serves requests at all (liveness: what a restart
//! can cure). `/readyz` answers 200 when every dependency of the command answered within
//! `metrics.ready-within` and has not failed since, 503 otherwise, with a JSON body naming each
//! dependency's state either way. Kafka, Redis and the lake are probed every
//! `metrics.probe-interval`; the node is judged by its answers to the command's own requests
//! (`chainlake_ingest::rpc::readiness`), never probed. Reads the readiness table, writes the
//! `chainlake_dependency_ready` gauges.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainlake_ingest::rpc::probe::KafkaProbe;
use chainlake_ingest::rpc::readiness::{self, Dependency, Report};
use chainlake_medallion::deltalake::{ObjectStore, ObjectStoreError};
use chainlake_medallion::lake::Lake;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("metrics.listen = {listen:?}: {reason}")]
    Listen { listen: String, reason: String },
    #[error("starting the Prometheus recorder: {0}")]
    Recorder(String),
    #[error("readiness probe of {dependency}: {reason}")]
    Probe { dependency: &'static str, reason: String },
}

/// What `/readyz` reports on and how.
#[derive(Clone)]
struct Endpoint {
    handle: PrometheusHandle,
    deps: Arc<Vec<Dependency>>,
    within: Duration,
}

/// Installs the Prometheus recorder and serves the three paths until `cancel`, probing `deps`
/// (the node excepted) in the background. Returns once the listener is bound.
pub async fn serve(
    cfg: &Config,
    deps: Vec<Dependency>,
    cancel: &CancellationToken,
) -> Result<(), HealthError> {
    let bad = |reason: String| HealthError::Listen { listen: cfg.metrics.listen.clone(), reason };
    let addr: SocketAddr =
        cfg.metrics.listen.parse().map_err(|e: std::net::AddrParseError| bad(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| bad(e.to_string()))?;
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| HealthError::Recorder(e.to_string()))?;
    let endpoint = Endpoint { handle, deps: Arc::new(deps), within: cfg.metrics.ready_within };
    let probes = Probes::new(cfg, &endpoint.deps)?;
    tokio::spawn(probe_loop(probes, endpoint.clone(), cfg.metrics.probe_interval, cancel.clone()));
    tokio::spawn(accept_loop(listener, endpoint, cancel.clone()));
    Ok(())
}

async fn accept_loop(listener: tokio::net::TcpListener, endpoint: Endpoint, cancel: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    continue;
                }
            },
        };
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let endpoint = endpoint.clone();
                async move { Ok::<_, std::convert::Infallible>(respond(&endpoint, &req)) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "metrics endpoint: connection ended");
            }
        });
    }
}

fn respond(endpoint: &Endpoint, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match req.uri().path() {
        "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4", endpoint.handle.render()),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" => {
            let report = readiness::report(&endpoint.deps, endpoint.within, Instant::now());
            let status = if report.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            (status, "application/json", readyz_body(&report))
        }
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found: /metrics, /healthz, /readyz\n".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        response.headers_mut().insert(CONTENT_TYPE, v);
    }
    response
}

fn readyz_body(report: &Report) -> String {
    serde_json::to_string(report).map(|s| s + "\n").unwrap_or_else(|_| "{}\n".to_owned())
}

/// The clients the probes keep between looks.
struct Probes {
    kafka: Option<KafkaProbe>,
    redis: Option<redis::Client>,
    lake: Option<Arc<dyn ObjectStore>>,
}

impl Probes {
    fn new(cfg: &Config, deps: &[Dependency]) -> Result<Self, HealthError> {
        let probe =
            |dependency: &'static str| move |reason: String| HealthError::Probe { dependency, reason };
        let kafka = deps
            .contains(&Dependency::Kafka)
            .then(|| KafkaProbe::new(&cfg.kafka).map_err(|e| probe("kafka")(e.to_string())))
            .transpose()?;
        let redis = deps
            .contains(&Dependency::Redis)
            .then(|| redis::Client::open(cfg.redis.url.as_str()).map_err(|e| probe("redis")(e.to_string())))
            .transpose()?;
        let lake = deps
            .contains(&Dependency::Lake)
            .then(|| {
                Lake::new(&cfg.lake)
                    .and_then(|lake| lake.folder_store(&cfg.chain.name))
                    .map_err(|e| probe("lake")(e.to_string()))
            })
            .transpose()?;
        Ok(Probes { kafka, redis, lake })
    }

    /// One look at each dependency, at most `timeout` each, recorded in the readiness table.
    async fn look(&self, timeout: Duration) {
        if let Some(kafka) = &self.kafka {
            record(Dependency::Kafka, kafka.check(timeout).await.map_err(|e| e.to_string()));
        }
        if let Some(client) = &self.redis {
            record(Dependency::Redis, within(timeout, ping(client)).await);
        }
        if let Some(store) = &self.lake {
            record(Dependency::Lake, within(timeout, list(store.as_ref())).await);
        }
    }
}

/// One listing of the chain's folder; an absent folder is an answer too.
async fn list(store: &dyn ObjectStore) -> Result<(), String> {
    match store.list_with_delimiter(None).await {
        Ok(_) | Err(ObjectStoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

async fn ping(client: &redis::Client) -> Result<(), String> {
    let mut conn = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
    redis::cmd("PING").query_async::<String>(&mut conn).await.map(|_| ()).map_err(|e| e.to_string())
}

async fn within(
    timeout: Duration,
    f: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    tokio::time::timeout(timeout, f).await.unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
}

fn record(dep: Dependency, result: Result<(), String>) {
    match result {
        Ok(()) => readiness::answered(dep),
        Err(reason) => {
            tracing::debug!(dependency = dep.label(), %reason, "readiness probe failed");
            readiness::failed(dep, reason);
        }
    }
}

async fn probe_loop(probes: Probes, endpoint: Endpoint, every: Duration, cancel: CancellationToken) {
    let timeout = every.min(Duration::from_secs(5));
    let mut was_ready = None;
    loop {
        probes.look(timeout).await;
        let report = readiness::report(&endpoint.deps, endpoint.within, Instant::now());
        for d in &report.dependencies {
            metrics::gauge!(chainlake_ingest::metrics::DEPENDENCY_READY, "dependency" => d.dependency)
                .set(f64::from(u8::from(d.ready)));
        }
        if was_ready != Some(report.ready) {
            // One line per change, naming what is not ready and why.
            let waiting: Vec<String> = report
                .dependencies
                .iter()
                .filter(|d| !d.ready)
                .map(|d| format!("{} ({})", d.dependency, d.error.as_deref().unwrap_or("no answer yet")))
                .collect();
            if report.ready {
                tracing::info!("ready: every dependency answered");
            } else if was_ready == Some(true) {
                tracing::warn!(waiting = %waiting.join(", "), "not ready");
            } else {
                tracing::info!(waiting = %waiting.join(", "), "not ready yet");
            }
            was_ready = Some(report.ready);
        }
        endpoint.handle.run_upkeep();
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
