//! A JSON-RPC provider on loopback whose every answer a test scripts: the result, an error
//! object, or an HTTP status with `Retry-After` — per method, parameters and call count. Real
//! HTTP, so the whole client path (transport, retry layer, failover) is exercised.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the fake answers to one call.
#[derive(Debug, Clone)]
pub enum Reply {
    Result(Value),
    /// A JSON-RPC error object.
    Error(i64, String),
    /// An HTTP status with a body and, when set, `Retry-After` in seconds.
    Status(u16, Option<u64>),
}

type Script = dyn Fn(&str, &Value, usize) -> Reply + Send + Sync;

/// A provider answering as its script says; counts calls per method.
#[derive(Clone)]
pub struct RpcFake {
    pub url: String,
    calls: Arc<Mutex<HashMap<String, usize>>>,
}

/// A recorded mainnet answer of testdata/mainnet (e.g. `block-18000000.json`).
pub fn mainnet(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/mainnet").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl RpcFake {
    /// Serves `script(method, params, n)`, `n` counting that method's calls from 0.
    pub async fn start(script: impl Fn(&str, &Value, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let url = format!("http://{}", listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
        let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let fake = RpcFake { url, calls: calls.clone() };
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (calls, script) = (calls.clone(), script.clone());
                tokio::spawn(async move { serve(conn, &calls, script.as_ref()).await });
            }
        });
        fake
    }

    /// Calls of `method` so far.
    pub fn calls(&self, method: &str) -> usize {
        lock(&self.calls).get(method).copied().unwrap_or(0)
    }
}

/// One request per connection (`connection: close`), as a minimal HTTP/1.1 server.
async fn serve(conn: tokio::net::TcpStream, calls: &Mutex<HashMap<String, usize>>, script: &Script) {
    let mut conn = BufReader::new(conn);
    let mut len = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len];
    if conn.read_exact(&mut body).await.is_err() {
        return;
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let method = req["method"].as_str().unwrap_or("").to_owned();
    let n = {
        let mut calls = lock(calls);
        let n = calls.entry(method.clone()).or_default();
        *n += 1;
        *n - 1
    };
    let id = req["id"].clone();
    let (status, retry_after, answer) = match script(&method, &req["params"], n) {
        Reply::Result(r) => (200, None, json!({"jsonrpc": "2.0", "id": id, "result": r}).to_string()),
        Reply::Error(code, message) => {
            let error = json!({"code": code, "message": message});
            (200, None, json!({"jsonrpc": "2.0", "id": id, "error": error}).to_string())
        }
        Reply::Status(status, retry_after) => (status, retry_after, "{\"error\":\"scripted\"}".to_owned()),
    };
    let retry = retry_after.map(|s| format!("retry-after: {s}\r\n")).unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{retry}content-length: {}\r\nconnection: close\r\n\r\n",
        answer.len()
    );
    let _ = conn.get_mut().write_all(head.as_bytes()).await;
    let _ = conn.get_mut().write_all(answer.as_bytes()).await;
}
