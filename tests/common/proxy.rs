//! A provider front for tests: a real HTTP server on loopback that forwards JSON-RPC to a real
//! node (anvil) and, per test, behaves like a weaker hosted provider: no
//! `eth_getBlockReceipts` (answers -32601), or a stale head (`eth_blockNumber` frozen).
//! It counts the methods it saw. With [`Proxy::inject_faults`] it becomes the fault storm a
//! flaky hosted provider is: seeded random 429/500/502, truncated or garbage bodies, `null`
//! blocks, short/long/foreign receipt lists, tampered receipts, hangs past the client's timeout
//! and a lagging head; each injected fault is counted by kind. With [`Proxy::inject_lies`] it
//! lies plausibly (lies.rs: changed header, value, sender, gas, status, logs, swapped receipts,
//! another height's answer; an HTML page with status 200, a reset, a trickled body), and with
//! [`Proxy::pin_lie`] it tells one lie about some heights (or all) every time. The behaviours
//! also give a bogus head (`head_offset`), a `Retry-After` on every answer (`retry_after`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::lies;
use super::Rng;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How the front deviates from the node behind it.
#[derive(Debug, Default)]
pub struct Behaviour {
    pub no_block_receipts: AtomicBool,
    /// When set (non-zero), `eth_blockNumber` answers this height minus one.
    pub frozen_head: AtomicU64,
    /// Every `eth_getBlockReceipts` answer has receipt 0's status flipped.
    pub tamper_receipts: AtomicBool,
    /// Added to every `eth_blockNumber` answer (a bogus head).
    pub head_offset: AtomicU64,
    /// When set (seconds), every call is answered 429 with this `Retry-After`.
    pub retry_after: AtomicU64,
    /// While set, block and receipts answers (computed when the request arrives) are held back: released by
    /// [`Proxy::release`], they are what the node said then (a stale answer after a reorg).
    pub hold: AtomicBool,
    released: tokio::sync::Notify,
}

/// Lies told every time: about these heights (`None`: every height).
#[derive(Debug, Clone)]
struct Pinned {
    heights: Option<Vec<u64>>,
    lie: &'static str,
}

/// Every fault the storm can inject.
pub const FAULTS: [&str; 13] = [
    "http_429",
    "http_500",
    "http_502",
    "truncated",
    "garbage",
    "null_block",
    "null_receipts",
    "short_receipts",
    "long_receipts",
    "foreign_receipts",
    "changed_receipt",
    "hang",
    "lagging_head",
];

/// A seeded storm: each single call is hit with probability `percent`/100.
struct Storm {
    rng: Rng,
    percent: u64,
    hang: std::time::Duration,
    injected: HashMap<&'static str, u64>,
}

/// What the front answers instead of the node's answer.
enum Answer {
    Ok(Vec<u8>),
    Status(u16, Vec<u8>),
    Hang(std::time::Duration),
    /// Status 200 with an HTML page.
    Html,
    /// The connection closed without an answer.
    Reset,
    /// The answer, a few bytes at a time.
    Trickle(Vec<u8>),
    /// 429 with `Retry-After` (seconds).
    RetryAfter(u64),
}

#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    pub behaviour: Arc<Behaviour>,
    calls: Arc<Mutex<HashMap<String, u64>>>,
    storm: Arc<Mutex<Option<Storm>>>,
    lie_storm: Arc<Mutex<Option<Storm>>>,
    pinned: Arc<Mutex<Vec<Pinned>>>,
    /// `host:port` of the node requests go to; [`Proxy::switch_to`] changes it.
    upstream: Arc<Mutex<String>>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = Proxy {
            url,
            behaviour: Arc::default(),
            calls: Arc::default(),
            storm: Arc::default(),
            lie_storm: Arc::default(),
            pinned: Arc::default(),
            upstream: Arc::new(Mutex::new(host_port(upstream))),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let p = p.clone();
                tokio::spawn(async move { p.serve(conn).await });
            }
        });
        proxy
    }

    /// From the next request on, forwards to the node at `upstream` (another branch).
    pub fn switch_to(&self, upstream: &str) {
        *self.upstream.lock().unwrap() = host_port(upstream);
    }

    /// From now on, hits `percent` % of single calls with a random fault; hangs last `hang`.
    pub fn inject_faults(&self, seed_name: &str, percent: u64, hang: std::time::Duration) {
        let storm = Storm { rng: Rng::new(seed_name), percent, hang, injected: HashMap::new() };
        *self.storm.lock().unwrap() = Some(storm);
    }

    /// From now on, tells a random lie (lies.rs) in answer to `percent` % of the calls it can
    /// be told about.
    pub fn inject_lies(&self, seed_name: &str, percent: u64) {
        let storm =
            Storm { rng: Rng::new(seed_name), percent, hang: Default::default(), injected: HashMap::new() };
        *self.lie_storm.lock().unwrap() = Some(storm);
    }

    /// From now on, tells `lie` about `heights` (every height: `None`) every time.
    pub fn pin_lie(&self, heights: Option<Vec<u64>>, lie: &'static str) {
        self.pinned.lock().unwrap().push(Pinned { heights, lie });
    }

    /// Sends the answers held back, and every later one at once.
    pub fn release(&self) {
        self.behaviour.hold.store(false, Ordering::SeqCst);
        self.behaviour.released.notify_waiters();
    }

    /// Stops injecting faults and telling lies.
    pub fn calm(&self) {
        self.storm.lock().unwrap().take();
        self.lie_storm.lock().unwrap().take();
        self.pinned.lock().unwrap().clear();
    }

    /// How many faults and lies of each kind were injected.
    pub fn injected(&self) -> HashMap<&'static str, u64> {
        let mut all = HashMap::new();
        for storm in [&self.storm, &self.lie_storm] {
            for (k, v) in storm.lock().unwrap().as_ref().map(|s| s.injected.clone()).unwrap_or_default() {
                *all.entry(k).or_default() += v;
            }
        }
        all
    }

    /// How often each method was called (batched calls counted one by one).
    pub fn calls(&self, method: &str) -> u64 {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    async fn serve(&self, conn: TcpStream) {
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
            let upstream = self.upstream.lock().unwrap().clone();
            let answer = self.faulty(&body, &upstream).await;
            let block_call = [&b"eth_getBlockByNumber"[..], b"eth_getBlockReceipts"]
                .iter()
                .any(|m| body.windows(m.len()).any(|w| w == *m));
            if block_call && self.behaviour.hold.load(Ordering::SeqCst) {
                let released = self.behaviour.released.notified();
                if self.behaviour.hold.load(Ordering::SeqCst) {
                    released.await;
                }
            }
            let (status, answer, extra) = match answer {
                Answer::Ok(a) => (200, a, String::new()),
                Answer::Status(s, a) => (s, a, String::new()),
                Answer::Html => (200, b"<html><body>502 Bad Gateway</body></html>".to_vec(), String::new()),
                Answer::RetryAfter(secs) => (429, b"{}".to_vec(), format!("retry-after: {secs}\r\n")),
                Answer::Hang(d) => {
                    tokio::time::sleep(d).await;
                    return;
                }
                Answer::Reset => return,
                Answer::Trickle(a) => {
                    let head = format!(
                        "HTTP/1.1 200 X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        a.len()
                    );
                    let _ = conn.get_mut().write_all(head.as_bytes()).await;
                    for chunk in a.chunks(a.len().div_ceil(8).max(1)) {
                        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
                        if conn.get_mut().write_all(chunk).await.is_err() {
                            return;
                        }
                    }
                    continue;
                }
            };
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n",
                answer.len()
            );
            if conn.get_mut().write_all(head.as_bytes()).await.is_err()
                || conn.get_mut().write_all(&answer).await.is_err()
            {
                return;
            }
        }
    }

    /// The node's answer, or a fault drawn from the storm, or a lie.
    async fn faulty(&self, body: &[u8], upstream: &str) -> Answer {
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let method = req["method"].as_str().unwrap_or("").to_owned();
        let secs = self.behaviour.retry_after.load(Ordering::Relaxed);
        if secs > 0 && !method.is_empty() {
            return Answer::RetryAfter(secs);
        }
        if let Some(answer) = self.lie(&req, &method, upstream).await {
            return answer;
        }
        let fault = {
            let mut guard = self.storm.lock().unwrap();
            match guard.as_mut() {
                Some(storm) if !method.is_empty() => {
                    let hit = storm.rng.below(100) < storm.percent;
                    let f = FAULTS[storm.rng.below(FAULTS.len() as u64) as usize];
                    hit.then(|| (f, storm.hang, storm.rng.next_u64()))
                }
                _ => None,
            }
        };
        let Some((fault, hang, pick)) = fault else { return Answer::Ok(self.answer(body, upstream).await) };
        let id = req["id"].clone();
        let result =
            |r: Value| serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": r})).unwrap();
        let answer = match fault {
            "http_429" => Answer::Status(429, br#"{"error":"rate limited"}"#.to_vec()),
            "http_500" => Answer::Status(500, b"internal error".to_vec()),
            "http_502" => Answer::Status(502, b"<html>bad gateway</html>".to_vec()),
            "hang" => Answer::Hang(hang),
            "garbage" => Answer::Ok(b"\x00\xffnot json at all".to_vec()),
            "truncated" => {
                let full = self.answer(body, upstream).await;
                Answer::Ok(full[..full.len() / 2].to_vec())
            }
            "null_block" if method == "eth_getBlockByNumber" => Answer::Ok(result(Value::Null)),
            "null_receipts" if method == "eth_getBlockReceipts" => Answer::Ok(result(Value::Null)),
            f if method == "eth_getBlockReceipts" && (f.ends_with("receipts") || f == "changed_receipt") => {
                let full: Value =
                    serde_json::from_slice(&self.answer(body, upstream).await).unwrap_or(Value::Null);
                match tamper(f, full["result"].clone(), pick) {
                    Some(r) => Answer::Ok(result(r)),
                    None => return Answer::Ok(serde_json::to_vec(&full).unwrap()),
                }
            }
            "lagging_head" if method == "eth_blockNumber" => {
                let full: Value =
                    serde_json::from_slice(&self.answer(body, upstream).await).unwrap_or(Value::Null);
                let head = full["result"]
                    .as_str()
                    .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok());
                Answer::Ok(result(json!(format!("{:#x}", head.unwrap_or(0).saturating_sub(3)))))
            }
            // A fault that does not apply to this method: the node's answer.
            _ => return Answer::Ok(self.answer(body, upstream).await),
        };
        *self.storm.lock().unwrap().as_mut().map(|s| s.injected.entry(fault).or_default()).unwrap() += 1;
        answer
    }

    /// A pinned lie about this call's height, else one drawn from the lie storm, told.
    async fn lie(&self, req: &Value, method: &str, upstream: &str) -> Option<Answer> {
        let asked =
            req["params"][0].as_str().and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok());
        let pinned = self.pinned.lock().unwrap().iter().find_map(|p| {
            let here = match &p.heights {
                None => true,
                Some(hs) => asked.is_some_and(|a| hs.contains(&a)),
            };
            (here && lies::applies(p.lie, method)).then_some(p.lie)
        });
        let (lie, pick) = match pinned {
            Some(lie) => (lie, asked.unwrap_or(0)),
            None => {
                let mut guard = self.lie_storm.lock().unwrap();
                let storm = guard.as_mut()?;
                let kinds: Vec<&'static str> =
                    lies::all().into_iter().filter(|l| lies::applies(l, method)).collect();
                if method.is_empty() || kinds.is_empty() || storm.rng.below(100) >= storm.percent {
                    return None;
                }
                let lie = kinds[storm.rng.below(kinds.len() as u64) as usize];
                (lie, storm.rng.next_u64())
            }
        };
        let count = |proxy: &Proxy| {
            if let Some(s) = proxy.lie_storm.lock().unwrap().as_mut() {
                *s.injected.entry(lie).or_default() += 1;
            }
        };
        match lie {
            "html_200" | "reset" => {
                count(self);
                return Some(if lie == "reset" { Answer::Reset } else { Answer::Html });
            }
            _ => {}
        }
        let mut asked_req = req.clone();
        if let Some(other) = asked.and_then(|a| lies::other_height(lie, a)) {
            asked_req["params"][0] = json!(format!("{other:#x}"));
        }
        let full: Value =
            serde_json::from_slice(&self.answer(&serde_json::to_vec(&asked_req).unwrap(), upstream).await)
                .ok()?;
        if lie == "trickle" {
            count(self);
            return Some(Answer::Trickle(serde_json::to_vec(&full).unwrap()));
        }
        let told = lies::tell(lie, &full["result"], pick)?;
        count(self);
        let mut out = full;
        out["result"] = told;
        Some(Answer::Ok(serde_json::to_vec(&out).unwrap()))
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
                Some("eth_getBlockReceipts") if self.behaviour.tamper_receipts.load(Ordering::Relaxed) => {
                    let mut full: Value = serde_json::from_slice(&forward(body, upstream).await).unwrap();
                    if let Some(r) = tamper("changed_receipt", full["result"].clone(), 0) {
                        full["result"] = r;
                    }
                    return serde_json::to_vec(&full).unwrap();
                }
                Some("eth_blockNumber") => {
                    let frozen = self.behaviour.frozen_head.load(Ordering::Relaxed);
                    if frozen > 0 {
                        let result = format!("{:#x}", frozen - 1);
                        return serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
                            .unwrap();
                    }
                    let offset = self.behaviour.head_offset.load(Ordering::Relaxed);
                    if offset > 0 {
                        let mut full: Value = serde_json::from_slice(&forward(body, upstream).await).unwrap();
                        let head = full["result"]
                            .as_str()
                            .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
                            .unwrap_or(0);
                        full["result"] = json!(format!("{:#x}", head + offset));
                        return serde_json::to_vec(&full).unwrap();
                    }
                }
                _ => {}
            }
        }
        forward(body, upstream).await
    }
}

/// A receipts list made wrong the way `fault` says; `None` when it cannot be (empty list).
fn tamper(fault: &str, receipts: Value, pick: u64) -> Option<Value> {
    let mut list = receipts.as_array()?.clone();
    if list.is_empty() {
        return None;
    }
    let i = (pick % list.len() as u64) as usize;
    match fault {
        "short_receipts" => {
            list.remove(i);
        }
        "long_receipts" => list.push(list[i].clone()),
        "foreign_receipts" => {
            for r in &mut list {
                r["blockHash"] = json!(format!("0x{}", "ee".repeat(32)));
            }
        }
        "changed_receipt" => {
            let status = if list[i]["status"] == "0x1" { "0x0" } else { "0x1" };
            list[i]["status"] = json!(status);
        }
        _ => return None,
    }
    Some(Value::Array(list))
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").trim_end_matches('/').to_owned()
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
