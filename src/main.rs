//! The thin binary: parse the command line, load configuration, call one runner, map errors to
//! exit codes.

mod cli;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command, LogFormat};
use deskdraft::commands::draft::{AsOf, TicketSource, format_draft_for_terminal, run_draft};
use deskdraft::commands::ingest::{IngestArgs, run_ingest};
use deskdraft::config::Config;
use deskdraft::errors::CommandError;
use deskdraft::simulate::selection::{ReplaySelection, parse_date, read_ids_file};
use deskdraft::simulate::{SimulateArgs, run_simulation};

fn main() -> ExitCode {
    let cli = Cli::parse();
    deskdraft::telemetry::init_logging(matches!(cli.log_format, LogFormat::Json));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = error
                .downcast_ref::<CommandError>()
                .map(CommandError::exit_code)
                .unwrap_or(1);
            eprintln!("error: {error:#}");
            ExitCode::from(code as u8)
        }
    }
}

fn parse_as_of(value: Option<&str>) -> anyhow::Result<AsOf> {
    Ok(match value {
        None | Some("ticket") => AsOf::Default,
        Some("now") => AsOf::Now,
        Some(instant) => AsOf::At(
            chrono::DateTime::parse_from_rfc3339(instant)
                .map_err(|e| CommandError::BadInput(format!("--as-of {instant:?}: {e}")))?
                .to_utc(),
        ),
    })
}

fn simulate_selection(
    args: &cli::SimulateCommand,
    default_sample: usize,
) -> anyhow::Result<ReplaySelection> {
    let bad =
        |e: deskdraft::simulate::selection::SelectionError| CommandError::BadInput(e.to_string());
    Ok(if let Some(path) = &args.replay_ids {
        ReplaySelection::Ids(read_ids_file(path).map_err(bad)?)
    } else if let Some(from) = &args.replay_from {
        ReplaySelection::DateRange {
            from: parse_date(from, false).map_err(bad)?,
            to: args
                .replay_to
                .as_deref()
                .map(|to| parse_date(to, true))
                .transpose()
                .map_err(bad)?,
        }
    } else if let Some(size) = args.sample {
        ReplaySelection::Sample {
            size,
            seed: args.seed,
        }
    } else {
        ReplaySelection::MostRecent(default_sample)
    })
}

fn print_simulation(outcome: &deskdraft::simulate::SimulationOutcome) {
    let summary = &outcome.summary;
    let agreement = &summary.article_agreement;
    println!(
        "replayed {} tickets ({})",
        summary.replayed_tickets, summary.run.selection
    );
    println!(
        "drafts at threshold {:.2}: {} ({} withheld)",
        summary.confidence_threshold, summary.drafted_tickets, summary.abstained_tickets
    );
    if agreement.eligible_tickets > 0 {
        println!(
            "article agreement over {} tickets: hit@1 {:.3}  hit@3 {:.3}  hit@5 {:.3}  MRR {:.3}",
            agreement.eligible_tickets,
            agreement.hit_at_1,
            agreement.hit_at_3,
            agreement.hit_at_5,
            agreement.mrr
        );
    }
    println!(
        "reply similarity over {} tickets: cosine {:.3}  ROUGE-L {:.3}",
        summary.similarity.compared_tickets,
        summary.similarity.mean_cosine,
        summary.similarity.mean_rouge_l_f1
    );
    if let Some(threshold) = summary.suggested_threshold.threshold {
        println!(
            "suggested threshold for precision {:.2}: {:.2} (coverage {:.2})",
            summary.suggested_threshold.target_precision,
            threshold,
            summary.suggested_threshold.coverage.unwrap_or(0.0)
        );
    }
    let issues = &summary.issues;
    if !issues.ids_not_found.is_empty()
        || !issues.no_agent_reply.is_empty()
        || issues.empty_selection
    {
        println!(
            "reported, not replayed: {} ids not in the bundle, {} tickets without an agent reply{}",
            issues.ids_not_found.len(),
            issues.no_agent_reply.len(),
            if issues.empty_selection {
                "; the selection is EMPTY"
            } else {
                ""
            }
        );
    }
    println!("report: {}", outcome.reports.report_html.display());
    println!("summary: {}", outcome.reports.summary_json.display());
    println!("tickets: {}", outcome.reports.tickets_csv.display());
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref()).map_err(CommandError::from)?;
    if let Some(data_dir) = cli.data_dir {
        config.data_dir = data_dir;
    }
    match cli.command {
        Command::Ingest(args) => {
            let summary = run_ingest(
                config,
                IngestArgs {
                    bundle: args.bundle,
                    knowledge: args.knowledge,
                    skip_invalid: args.skip_invalid,
                    freshdesk: args.freshdesk,
                    full_reconcile: args.full,
                },
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Command::Draft(args) => {
            let source = match (args.ticket_id, args.bundle) {
                (Some(ticket_id), Some(dir)) => TicketSource::Bundle { dir, ticket_id },
                _ if !args.ticket_json.is_empty() => TicketSource::JsonFiles(args.ticket_json),
                _ => {
                    return Err(CommandError::BadInput(
                        "give --ticket-id N --bundle DIR, or --ticket-json FILE".to_string(),
                    )
                    .into());
                }
            };
            let drafts = run_draft(config, source, parse_as_of(args.as_of.as_deref())?).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&drafts)?);
            } else {
                for draft in &drafts {
                    println!("{}", format_draft_for_terminal(draft));
                }
            }
        }
        Command::Stats { json } => {
            let stats = deskdraft::commands::stats::run_stats(config).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                println!("store:      {}", stats.store);
                println!(
                    "documents:  {} ({} cases, {} articles)",
                    stats.documents, stats.cases, stats.articles
                );
                println!("chunks:     {}", stats.chunks);
                println!("points:     {}", stats.points.points);
                println!(
                    "last ingest: {}",
                    stats
                        .last_ingest_finished
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
        Command::Simulate(args) => {
            let selection = simulate_selection(&args, config.simulation.default_sample)?;
            let simulate_args = SimulateArgs {
                bundle: args.bundle,
                out: args.out,
                selection,
                target_precision: args.target_precision,
                card_seed: args.seed,
                follow_ups: args.follow_ups,
            };
            if args.compare {
                let outcome = deskdraft::simulate::run_comparison(
                    config,
                    simulate_args,
                    args.llm_concurrency,
                )
                .await?;
                print!(
                    "{}",
                    deskdraft::simulate::report::compare::markdown(&outcome.comparison)
                );
                println!(
                    "\nwritten: {}, {}, {} (full reports in retrieval-only/ and llm/)",
                    outcome.compare_markdown.display(),
                    outcome.compare_html.display(),
                    outcome.compare_json.display()
                );
            } else {
                let outcome = run_simulation(config, simulate_args).await?;
                print_simulation(&outcome);
            }
        }
        Command::MigrateStore => {
            let summary = deskdraft::commands::migrate_store::run_migrate_store(config).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Command::MigrateQueue { from, to_env } => {
            let summary =
                deskdraft::commands::migrate_queue::run_migrate_queue(&config, from, &to_env)
                    .await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Command::Serve => deskdraft::commands::serve::run_serve(config).await?,
        Command::Export(args) => {
            let summary = deskdraft::commands::export::run_export(config, &args.out).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Command::CheckConfig => {
            let effective = deskdraft::commands::check_config::run_check_config(&config)
                .context("configuration check failed")?;
            println!("configuration OK\n\n{effective}");
        }
    }
    Ok(())
}
