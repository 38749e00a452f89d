//! Why a Dremio step failed. Imports nothing.

/// Why a Dremio step failed (no secret in any variant).
#[derive(Debug, thiserror::Error)]
pub enum DremioError {
    #[error("{key}: {reason}")]
    Config { key: &'static str, reason: String },
    #[error("dremio {request}: {reason}")]
    Http { request: String, reason: String },
    #[error("dremio {request}: HTTP {status}: {body}")]
    Status { request: String, status: u16, body: String },
    #[error("dremio {request}: unexpected answer: {reason}")]
    Answer { request: String, reason: String },
}
