//! The command line of the `chainlake` binary (clap): every command and its arguments.

use std::path::PathBuf;

use chainlake::pipeline;
use chainlake_medallion::jobs::schedule::Cadence;
use chainlake_medallion::lake::maintenance::Maintenance;
use chainlake_medallion::lake::Layer;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "chainlake", version, about = "EVM chain → Kafka → Delta Lake (Bronze, Silver, Gold)")]
pub(crate) struct Cli {
    /// TOML config file layered over the built-in defaults (default: ./chainlake.toml if present).
    #[arg(long, global = true, env = "CHAINLAKE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Local services, fresh anvil, traffic, ingest → Kafka → Bronze → Silver → Gold; prints Gold.
    Demo {
        #[arg(long, default_value_t = 30)]
        blocks: u32,
        #[arg(long, default_value_t = 24)]
        txs_per_block: u32,
        /// Do not run infra/local/up.sh (services already running).
        #[arg(long)]
        no_services: bool,
        /// Write the traffic ledger here.
        #[arg(long)]
        ledger: Option<PathBuf>,
    },
    /// Read blocks from the node and publish them to Kafka.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Consume the chain's topics into Bronze Delta tables.
    Sink {
        /// Stop once every partition is written up to its current end.
        #[arg(long)]
        until_caught_up: bool,
    },
    /// Silver and Gold: the SQL jobs, incremental from each table's checkpoint.
    #[command(subcommand)]
    Medallion(MedallionCommand),
    /// Table maintenance, safe while the sink writes.
    #[command(subcommand)]
    Lake(LakeCommand),
    /// The API-key pool (`[keys]`).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The ABI registry (`[abi]`: built-in ABIs, `abi.dir`, bindings, signature database).
    #[command(subcommand)]
    Abi(AbiCommand),
    /// Dremio: `bootstrap` sets a server up to read the lake (`dremio.url`).
    #[command(subcommand)]
    Dremio(DremioCommand),
    /// Run SQL over bronze.*, silver.* and gold.* tables and print the result.
    Query {
        sql: String,
        #[arg(long, value_enum, default_value_t)]
        format: pipeline::Format,
    },
    /// Print what each Silver and Gold table holds and its columns (from its SQL file), or the
    /// one named (`silver.blocks`).
    Tables { name: Option<String> },
    /// Re-check Bronze for a range of heights from the lake alone (no node): the holes
    /// (heights without a canonical verified block, with the reason), header hashes,
    /// completeness of transactions, receipts and logs; exits 1 while there is any.
    Verify {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
    },
    /// Fetch again every hole of a range (recorded, or found in the lake) and publish each
    /// block that proves; exits 4 while holes are left.
    Repair {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
    },
    /// Local devnet tools.
    #[command(subcommand)]
    Devnet(DevnetCommand),
    /// Benchmarks that print a table.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
pub(crate) enum MedallionCommand {
    /// Run the jobs once; exits 1 if one fails.
    Run {
        /// Only this layer's jobs.
        #[arg(long, value_parser = parse_layer)]
        layer: Option<Layer>,
        /// Rebuild every table from Bronze instead of from its checkpoint.
        #[arg(long)]
        full_refresh: bool,
    },
    /// Run the jobs every interval (`--every 60s`) or at a cron expression's times in UTC
    /// (`--cron "*/5 * * * *"`) until interrupted.
    Schedule {
        #[arg(long, value_parser = parse_every, required_unless_present = "cron", conflicts_with = "cron")]
        every: Option<Cadence>,
        #[arg(long, value_parser = Cadence::cron)]
        cron: Option<Cadence>,
        #[arg(long, value_parser = parse_layer)]
        layer: Option<Layer>,
    },
}

pub(crate) fn parse_every(s: &str) -> Result<Cadence, String> {
    match humantime_serde::re::humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("the interval must be more than 0".into()),
        Ok(d) => Ok(Cadence::Every(d)),
        Err(e) => Err(e.to_string()),
    }
}

pub(crate) fn parse_layer(s: &str) -> Result<Layer, String> {
    match s {
        "silver" => Ok(Layer::Silver),
        "gold" => Ok(Layer::Gold),
        _ => Err(format!("{s:?}: expected silver or gold")),
    }
}

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Per key: provider, holder replica, state (free, leased, cooling, parked), requests in
    /// the last minute and 24 hours, requests left today, and what `keys monitor` observed.
    Status,
    /// Read `{chain}.ops.rpc_usage` into the observed usage ledger (Redis or ScyllaDB) and
    /// per-key metrics; runs until stopped.
    Monitor {
        /// Stop once every record the topic held at start is counted.
        #[arg(long)]
        until_caught_up: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum DremioCommand {
    /// First user, login, the S3 source over the lake and the Nessie source, every Silver and
    /// Gold table promoted as Delta; safe to run again (what exists is left as it is).
    Bootstrap,
}

#[derive(Subcommand)]
pub(crate) enum AbiCommand {
    /// Every signature a 4-byte selector or a 32-byte event topic may mean.
    Lookup { selector_or_topic: String },
    /// Load the registry (every ABI file and binding) and list the ABIs and bindings.
    Check,
}

#[derive(Subcommand)]
pub(crate) enum LakeCommand {
    /// Compact small files of every table.
    Optimize {
        /// Target file size in bytes.
        #[arg(long, default_value_t = 128 * 1024 * 1024)]
        target_bytes: u64,
    },
    /// Delete files no version within the retention references.
    Vacuum {
        #[arg(long, default_value = "7days", value_parser = humantime_serde::re::humantime::parse_duration)]
        retention: std::time::Duration,
    },
    /// Write a checkpoint of every table at its current version.
    Checkpoint,
    /// Print each table's Delta protocol (what Dremio needs: reader ≤ 2, no DVs, no timestampNtz).
    Check,
}

impl LakeCommand {
    /// The maintenance operation, or `None` for the read-only check.
    pub(crate) fn maintenance(self) -> Option<Maintenance> {
        match self {
            LakeCommand::Optimize { target_bytes } => Some(Maintenance::Optimize { target_bytes }),
            LakeCommand::Vacuum { retention } => Some(Maintenance::Vacuum { retention }),
            LakeCommand::Checkpoint => Some(Maintenance::Checkpoint),
            LakeCommand::Check => None,
        }
    }
}

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Mine a bulk chain on a fresh anvil, backfill it into Kafka, report throughput.
    Ingest {
        #[arg(long, default_value_t = 5_000)]
        blocks: u64,
        #[arg(long, default_value_t = 50)]
        txs_per_block: u64,
        /// Blocks fetched at once (default: rpc.concurrency).
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Silver and Gold over a generated Bronze: full refresh, incremental at 1× and 4× history,
    /// nothing new, peak RSS, and the Gold SQL in DuckDB over the same Parquet files.
    Medallion {
        #[arg(long, default_value_t = 5_000_000)]
        txs: u64,
        #[arg(long, default_value_t = 150)]
        txs_per_block: u64,
        /// Days the 1× history spans.
        #[arg(long, default_value_t = 30)]
        days: u64,
    },
    /// Backfill blocks/s through the rate-limited front (nginx, infra/local/up.sh) with 1, 2, 4
    /// and 8 keys, one replica per key, and the 429s it answered.
    Keys {
        /// The front's base URL (keys at `/v3/pool_<n>`).
        #[arg(long, default_value = "http://127.0.0.1:8700")]
        front: String,
        #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
        keys: Vec<u32>,
        /// Blocks per key in each run.
        #[arg(long, default_value_t = 100)]
        blocks_per_key: u64,
        /// The front's requests/s per key (each key is configured with it).
        #[arg(long, default_value_t = 10)]
        rate: u32,
    },
    /// Decoded events/s and calls/s on one core over the recorded mainnet data.
    Decode {
        /// The recorded mainnet JSON-RPC files (receipts, logs, blocks).
        #[arg(long, default_value = "testdata/mainnet")]
        fixtures: PathBuf,
        /// Logs decoded at least (the recorded ones repeated).
        #[arg(long, default_value_t = 1_000_000)]
        logs: u64,
    },
    /// Sink throughput: the sink's own path and end to end from the broker, local lake and S3.
    Sink {
        #[arg(long, default_value_t = 300_000)]
        rows: u64,
        /// Also measure on this S3 root (credentials and endpoint from AWS_* env or lake options).
        #[arg(long)]
        s3_root: Option<String>,
        /// Measure only the sink's own path (records already fetched), not through the broker.
        #[arg(long)]
        no_broker: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum IngestCommand {
    /// Publish the blocks FROM..=TO. Processes started with the same range share it through
    /// Redis (leased chunks); a stopped run resumes from its checkpoints.
    Backfill {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        /// Blocks per leased chunk (default: backfill.chunk-size).
        #[arg(long)]
        chunk_size: Option<u64>,
        /// Forget the range's checkpoints and completed chunks first.
        #[arg(long)]
        restart: bool,
        /// Log progress lines instead of drawing a bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// Follow the head from a height (default: where the last run stopped, else the head).
    Follow {
        #[arg(long)]
        from: Option<u64>,
    },
}

#[derive(Subcommand)]
pub(crate) enum DevnetCommand {
    /// Deploy contracts and send traffic to the node of `rpc.url`; writes a ledger.
    Traffic {
        #[arg(long, default_value_t = 30)]
        blocks: u32,
        #[arg(long, default_value_t = 24)]
        txs_per_block: u32,
        #[arg(long, default_value = "ledger.json")]
        ledger: PathBuf,
    },
}
