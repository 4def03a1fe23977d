//! The `hotlist-matcher` command: parses the arguments ([`hotlist_matcher::cli`])
//! and runs the subcommand ([`hotlist_matcher::commands`]); nothing else.

use std::process::ExitCode;

use clap::Parser;

use hotlist_matcher::cli::Cli;
use hotlist_matcher::commands;

fn main() -> ExitCode {
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
