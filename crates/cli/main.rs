//! `sweep`: the command-line switchboard. Each command parses its arguments, calls the
//! library (`sweep`, `trial`, `train`, `diagnose`) and prints what it returns; the exit
//! codes are `sweep::exit_code`'s, and only this binary ends the process.

mod args;
mod compare;
mod diagnose;
mod fit;
mod next;
mod report;
mod run;
mod sample;
mod slurm;
mod status;
mod trial;

use args::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SWEEP_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    // `sweep status | head` ends quietly when head has read enough, as Unix tools do.
    // SAFETY: restoring the default disposition of SIGPIPE, before any thread starts.
    let _ = unsafe { nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) };
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => run::run(a),
        Command::Prepare(a) => run::prepare(a),
        Command::Report(a) => report::report(a),
        Command::Sample(a) => sample::sample(a),
        Command::Diagnose(a) => diagnose::diagnose(a),
        Command::Compare(a) => compare::compare(a),
        Command::Fit(a) => fit::fit(a),
        Command::Next(a) => next::next(a),
        Command::Status(a) => status::status(a),
        Command::Cancel(a) => status::cancel(a),
        Command::Trial(a) => trial::trial(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("sweep: error: {err:#}");
            ExitCode::from(sweep::exit_code::USAGE)
        }
    }
}
