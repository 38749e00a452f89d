//! An anvil child process on a free loopback port, killed when dropped.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{Error, Result};

/// A running anvil (fresh chain, chain id 31337, 10 unlocked dev accounts).
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    port: u16,
}

impl Anvil {
    /// Starts `bin` on a free port and waits (with a deadline) until it answers `eth_chainId`.
    pub async fn spawn(bin: &Path, extra_args: &[&str]) -> Result<Self> {
        let port = free_port()?;
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--chain-id", "31337"])
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::devnet(format!("start anvil {}", bin.display()), e))?;
        let anvil = Anvil { child, port };
        anvil.wait_ready(Duration::from_secs(20)).await?;
        Ok(anvil)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The same node's WebSocket endpoint (anvil serves both on one port).
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The OS process id (the benchmark reads the node's CPU time from /proc).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn wait_ready(&self, deadline: Duration) -> Result<()> {
        let client = alloy::rpc::client::ClientBuilder::default()
            .http(self.url().parse().map_err(|e: url::ParseError| Error::devnet("anvil url", e))?);
        let started = tokio::time::Instant::now();
        loop {
            let r: std::result::Result<alloy::primitives::U64, _> =
                client.request_noparams("eth_chainId").await;
            if r.is_ok() {
                return Ok(());
            }
            if started.elapsed() > deadline {
                return Err(Error::devnet(
                    "anvil",
                    format!("not ready on port {} after {deadline:?}", self.port),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the process and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::devnet("pick a free port", e))?;
    l.local_addr().map(|a| a.port()).map_err(|e| Error::devnet("pick a free port", e))
}
