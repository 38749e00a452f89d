//! In-process fakes of every role, for the unit tests of the decisions and for integration
//! tests (feature `test-utils`): a chain whose head moves and reorganises on a script and
//! whose answers at some heights do not prove ([`chain`]), a sink that remembers what was
//! published in order ([`sink`]), chunk leases, holes and API-key stores in memory ([`leases`],
//! [`holes`], [`keys`]), JSON-RPC servers on loopback answering as a script says ([`rpc_fake`],
//! [`flaky`]), and a clock for tokio's paused time ([`clock`]). The role fakes run on tokio's
//! paused clock, so a test of leases expiring takes milliseconds.

pub mod chain;
pub mod clock;
pub mod flaky;
pub mod holes;
pub mod keys;
pub mod leases;
pub mod rpc_fake;
pub mod sink;
