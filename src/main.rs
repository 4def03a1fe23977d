//! The `hotlist-matcher` command: parses the arguments ([`hotlist_matcher::cli`])
//! and runs the subcommand ([`hotlist_matcher::commands`]); nothing else.

use std::process::ExitCode;

use clap::Parser;

use hotlist_matcher::cli::Cli;
use hotlist_matcher::commands;
use hotlist_matcher::memory::Counting;

/// Counts heap bytes for sizing figures (`bench hotlist-load`, the start-up log).
#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() -> ExitCode {
    ALLOCATOR.installed();
    hotlist_matcher::logging::init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
