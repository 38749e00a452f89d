//! A provider front for tests: a real HTTP server on loopback that forwards JSON-RPC to a real
//! node (anvil) and, per test, behaves like a weaker hosted provider: no
//! `eth_getBlockReceipts` (answers -32601), or a stale head (`eth_blockNumber` frozen).
//! It counts the methods it saw. Like the nginx front of infra/local, it never invents data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How the front deviates from the node behind it.
#[derive(Debug, Default)]
pub struct Behaviour {
    pub no_block_receipts: AtomicBool,
    /// When set (non-zero), `eth_blockNumber` answers this height minus one.
    pub frozen_head: AtomicU64,
}

#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    pub behaviour: Arc<Behaviour>,
    calls: Arc<Mutex<HashMap<String, u64>>>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let proxy = Proxy { url, behaviour: Arc::default(), calls: Arc::default() };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (p, upstream) = (p.clone(), upstream.clone());
                tokio::spawn(async move { p.serve(conn, &upstream).await });
            }
        });
        proxy
    }

    /// How often each method was called (batched calls counted one by one).
    pub fn calls(&self, method: &str) -> u64 {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    async fn serve(&self, conn: TcpStream, upstream: &str) {
        let mut conn = BufReader::new(conn);
        loop {
            let mut len = None;
            let mut line = String::new();
            // Request line and headers.
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
                        len = v.trim().parse::<usize>().ok();
                    }
                }
            }
            let mut body = vec![0; len.unwrap_or(0)];
            if conn.read_exact(&mut body).await.is_err() {
                return;
            }
            let answer = self.answer(&body, upstream).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                answer.len()
            );
            if conn.get_mut().write_all(head.as_bytes()).await.is_err()
                || conn.get_mut().write_all(&answer).await.is_err()
            {
                return;
            }
        }
    }

    async fn answer(&self, body: &[u8], upstream: &str) -> Vec<u8> {
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let calls: Vec<&Value> = match &req {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        {
            let mut counts = self.calls.lock().unwrap();
            for c in &calls {
                *counts.entry(c["method"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
            }
        }
        if let [one] = calls.as_slice() {
            let id = one["id"].clone();
            match one["method"].as_str() {
                Some("eth_getBlockReceipts") if self.behaviour.no_block_receipts.load(Ordering::Relaxed) => {
                    let err = json!({"code": -32601, "message": "the method eth_getBlockReceipts does not exist/is not available"});
                    return serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "error": err})).unwrap();
                }
                Some("eth_blockNumber") => {
                    let frozen = self.behaviour.frozen_head.load(Ordering::Relaxed);
                    if frozen > 0 {
                        let result = format!("{:#x}", frozen - 1);
                        return serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
                            .unwrap();
                    }
                }
                _ => {}
            }
        }
        forward(body, upstream).await
    }
}

async fn forward(body: &[u8], upstream: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(upstream).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {upstream}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let headers = String::from_utf8_lossy(&resp[..split]).to_ascii_lowercase();
    let payload = resp[split..].to_vec();
    if headers.contains("transfer-encoding: chunked") {
        dechunk(&payload)
    } else {
        payload
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}
