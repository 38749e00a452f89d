//! [`FlakyServer`]: a JSON-RPC server on loopback that fails its first requests.

use std::sync::Arc;

/// An HTTP JSON-RPC server in process that answers 500 to the first `fail_first` requests
/// (all of them with `usize::MAX`), then `eth_blockNumber` = 0x10; counts requests.
#[derive(Clone, Debug)]
pub struct FlakyServer {
    pub url: String,
    pub requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl FlakyServer {
    pub async fn start(fail_first: usize) -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let url = format!("http://{}", listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let Ok(n) = conn.read(&mut buf).await else { return };
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let id = text
                        .split("\"id\":")
                        .nth(1)
                        .and_then(|r| r.split([',', '}']).next())
                        .unwrap_or("0")
                        .to_owned();
                    let seen = counter.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = if seen < fail_first {
                        ("500 Internal Server Error", "oops".to_owned())
                    } else {
                        ("200 OK", format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"0x10"}}"#))
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(resp.as_bytes()).await;
                });
            }
        });
        FlakyServer { url, requests }
    }
}
