//! Command-line definitions (clap derive) only; behaviour lives in `deskdraft::commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "deskdraft",
    version,
    about = "Drafts helpdesk replies from your own resolved tickets and knowledge base"
)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./deskdraft.toml when present.
    #[arg(long, global = true, env = "DESKDRAFT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the store and state live (overrides `data_dir`).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Index a bundle and/or knowledge folders (incremental: unchanged content is skipped).
    Ingest(IngestCommand),
    /// Draft a reply for a ticket.
    Draft(DraftCommand),
    /// Show what the store holds.
    Stats {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Replay past tickets leak-free and report how good the drafts would have been.
    Simulate(SimulateCommand),
    /// Copy the embedded store into the Qdrant server collection of `[store]` (no re-embedding).
    MigrateStore,
    /// Copy the SQLite job queue (jobs, drafts, approvals, feedback) into an empty PostgreSQL
    /// queue, whose URL is read from the environment variable `--to-env` names.
    MigrateQueue {
        /// The SQLite queue to copy. Default: `serve.queue_path` (`<data_dir>/queue.sqlite`).
        #[arg(long)]
        from: Option<std::path::PathBuf>,
        /// The environment variable holding the target PostgreSQL URL (a secret: never printed).
        #[arg(long, default_value = "DESKDRAFT_QUEUE_URL")]
        to_env: String,
    },
    /// Run the service: Freshdesk webhook, durable job queue, notes, review page, metrics.
    Serve,
    /// Write a bundle of the Freshdesk account (for simulations on a frozen snapshot); resumable.
    Export(ExportCommand),
    /// Validate configuration, templates and the model folder, then print the effective config.
    CheckConfig,
}

#[derive(Debug, Args)]
pub struct ExportCommand {
    /// Export the account configured in `[freshdesk]` (the only source for now).
    #[arg(long, required = true)]
    pub freshdesk: bool,
    /// Bundle folder to write; an interrupted or earlier export there is resumed/updated.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct IngestCommand {
    /// Sync the Freshdesk account configured in `[freshdesk]` (key in DESKDRAFT_FRESHDESK_API_KEY):
    /// only tickets updated since the last committed sync are fetched.
    #[arg(long, conflicts_with_all = ["bundle", "knowledge", "skip_invalid"])]
    pub freshdesk: bool,
    /// With --freshdesk: list every ticket, walk the knowledge base, and remove what the account
    /// no longer has (deleted or spam tickets, deleted articles).
    #[arg(long, requires = "freshdesk")]
    pub full: bool,
    /// Bundle folder (tickets.jsonl[.gz], articles.jsonl[.gz], meta.json).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Knowledge folder of Markdown/HTML documents with front matter (repeatable).
    #[arg(long)]
    pub knowledge: Vec<PathBuf>,
    /// Skip and count malformed bundle lines instead of stopping at the first one.
    #[arg(long)]
    pub skip_invalid: bool,
}

#[derive(Debug, Args)]
pub struct DraftCommand {
    /// Ticket id to look up in --bundle.
    #[arg(long, requires = "bundle", conflicts_with = "ticket_json")]
    pub ticket_id: Option<i64>,
    /// Bundle holding --ticket-id.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Ticket JSON file(s) (a ticket object as the Freshdesk API returns it).
    #[arg(long, num_args = 1..)]
    pub ticket_json: Vec<PathBuf>,
    /// Knowledge cut-off: `ticket` (default for --ticket-id: only what existed before the ticket),
    /// `now` (everything), or an RFC 3339 instant.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SimulateCommand {
    /// Bundle to replay (history = everything in it; each draft sees only what preceded its ticket).
    #[arg(long)]
    pub bundle: PathBuf,
    /// Folder for summary.json, tickets.csv and report.html.
    #[arg(long)]
    pub out: PathBuf,
    /// File of ticket ids to replay (one per line).
    #[arg(long, conflicts_with_all = ["replay_from", "sample"])]
    pub replay_ids: Option<PathBuf>,
    /// Replay tickets created on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, conflicts_with = "sample")]
    pub replay_from: Option<String>,
    /// With --replay-from: up to and including this date.
    #[arg(long, requires = "replay_from")]
    pub replay_to: Option<String>,
    /// Replay a random sample of N resolved tickets (see --seed).
    #[arg(long)]
    pub sample: Option<usize>,
    /// Seed for --sample and for the report's random cards.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Precision the suggested confidence threshold should reach (default from config, 0.5).
    #[arg(long)]
    pub target_precision: Option<f32>,
    /// Replay each selected ticket's last customer follow-up that an agent answered, drafted from
    /// the thread so far and as of that message, instead of its first message (tickets without
    /// one are left out).
    #[arg(long)]
    pub follow_ups: bool,
    /// Replay the tickets twice, with the retrieval-only drafter and with the configured language
    /// model (llm.base_url), and write both reports side by side (compare.md, compare.html).
    #[arg(long)]
    pub compare: bool,
    /// With --compare: model calls at a time (1 measures a local server's latency per draft,
    /// not its queue).
    #[arg(long, default_value_t = 1, requires = "compare")]
    pub llm_concurrency: usize,
}
