//! Dremio: `chainlake dremio bootstrap` makes a fresh Dremio read the lake (first user, login,
//! the S3 source over the lake's bucket, the Nessie source, every Silver and Gold table folder
//! promoted as Delta), idempotent on re-run; after each medallion run that committed, the
//! tables it wrote get `ALTER TABLE … REFRESH METADATA` ([`Refresher`]). Reads `[dremio]` and
//! `[lake]`; writes nothing but Dremio's catalog. Passwords and S3 secrets never reach a log
//! line or an error (requests' `Debug` shows method and path only).

mod api;
pub mod error;
pub mod requests;
mod session;
pub mod settings;

pub use api::{Api, ApiResponse, Http};
pub use error::DremioError;
pub use requests::{ApiRequest, Method, S3Access};
pub use session::{bootstrap, BootstrapPlan, Outcome, Refresher};
pub use settings::DremioConfig;
