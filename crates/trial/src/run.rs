//! The whole trial: the run folders given (one, or a pack of same-shape runs trained as one
//! model by `train::train_packed`), each resumed from its saved state when it has one that
//! loads, trained, finished and recorded. SIGINT or SIGTERM saves the state and stops as
//! interrupted. Every member is recorded before any error is returned.

use crate::finish::finish;
use crate::observer::{CsvObserver, say};
use crate::record::{Attempt, Params, peak_memory_mib, record};
use crate::resume::{fresh_logs, inputs, read_params, resume_point, start_line, unusable_state};
use anyhow::Context;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use sweep::Summary;
use sweep::exit_code;
use sweep::output::run_dir::RunDir;
use sweep_config::RunConfig;

/// Trains the prepared run folders `run_dirs` in this process with `threads` libtorch
/// threads; the exit code for the sweep (OK, or a failing filesystem's `TRIAL_*`).
pub fn trial(run_dirs: &[PathBuf], threads: usize) -> anyhow::Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing the signal handlers")?;
    }
    train::set_threads(threads);
    let start = Instant::now();
    anyhow::ensure!(!run_dirs.is_empty(), "sweep trial needs at least one run folder");
    let dirs: Vec<RunDir> = run_dirs.iter().map(RunDir::new).collect();
    let packed = dirs.len() > 1;
    let results: Vec<(Params, Attempt)> = if packed {
        train_pack(&dirs, start, stop)
    } else {
        let dir = &dirs[0];
        let config: RunConfig = dir.read_config()?;
        let params = read_params(dir);
        let attempt = catch_unwind(AssertUnwindSafe(|| train_and_save(dir, &config, params.clone(), start, stop)));
        vec![(params, attempt)]
    };
    // Every member is recorded before any error is returned: one run's failing summary
    // write must not cost the others theirs.
    let mut code = exit_code::OK;
    let mut first_error = None;
    for (dir, (params, attempt)) in dirs.iter().zip(results) {
        let prefix = if packed { format!("[{}] ", dir.id()) } else { String::new() };
        match record(dir, params, start, attempt, &prefix) {
            Ok(exit_code::OK) => {}
            Ok(member) => code = member,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if let Some(mib) = peak_memory_mib() {
        say(&format!("peak memory of this trial process: {mib} MiB"));
    }
    Ok(code)
}

/// Trains one run alone, resuming from its saved state when that loads.
fn train_and_save(dir: &RunDir, config: &RunConfig, params: Params, start: Instant, stop: Arc<AtomicBool>) -> anyhow::Result<Summary> {
    let (device, tokenizer, data) = inputs(dir, config)?;
    let mut observer = CsvObserver::new(dir, stop, false);
    // Resume from the saved state when there is one that loads; otherwise start over.
    let mut out = None;
    if let Some(step) = resume_point(dir, "")? {
        println!("{}", start_line(dir, device, &data, Some(step)));
        match train::train(config, &data, device, &mut observer, Some(&dir.resume_state())) {
            Err(e) if unusable_state(&e, dir) => println!("warning: {e}; restarting this run from scratch"),
            other => out = Some(other?),
        }
    }
    let out = match out {
        Some(out) => out,
        None => {
            fresh_logs(dir)?;
            println!("{}", start_line(dir, device, &data, None));
            train::train(config, &data, device, &mut observer, None)?
        }
    };
    finish(dir, config, params, &tokenizer, &data, out, observer.error, start, "")
}

/// Trains several run folders of one shape packed into one model (`train::train_packed`),
/// members that resume at the same step together; one attempt per folder, in order.
fn train_pack(dirs: &[RunDir], start: Instant, stop: Arc<AtomicBool>) -> Vec<(Params, Attempt)> {
    let prefixes: Vec<String> = dirs.iter().map(|d| format!("[{}] ", d.id())).collect();
    let params: Vec<Params> = dirs.iter().map(read_params).collect();
    let mut attempts: Vec<Option<Attempt>> = dirs.iter().map(|_| None).collect();
    let configs: Vec<Option<RunConfig>> = dirs.iter().enumerate().map(|(i, d)| d.read_config().map_err(|e| attempts[i] = Some(Ok(Err(e)))).ok()).collect();
    let Some(first) = configs.iter().position(Option::is_some) else {
        return params.into_iter().zip(attempts).map(|(p, a)| (p, a.unwrap_or_else(|| Ok(Err(anyhow::anyhow!("not trained")))))).collect();
    };
    let shared = catch_unwind(AssertUnwindSafe(|| inputs(&dirs[first], configs[first].as_ref().expect("first readable config"))));
    let (device, tokenizer, data) = match shared {
        Ok(Ok(inputs)) => inputs,
        other => {
            let message = match other {
                Ok(Err(e)) => format!("{e:#}"),
                _ => "panic while reading the corpus".into(),
            };
            return params.into_iter().zip(attempts).map(|(p, a)| (p, a.unwrap_or_else(|| Ok(Err(anyhow::anyhow!(message.clone())))))).collect();
        }
    };
    // Where each member starts: its saved state's step, or 0 with a fresh loss.csv.
    let mut groups: std::collections::BTreeMap<Option<u64>, Vec<usize>> = Default::default();
    let resume_paths: Vec<std::path::PathBuf> = dirs.iter().map(RunDir::resume_state).collect();
    for (i, dir) in dirs.iter().enumerate() {
        if configs[i].is_none() {
            continue;
        }
        let step = resume_point(dir, &prefixes[i]).and_then(|step| {
            if step.is_none() {
                fresh_logs(dir)?;
            }
            say(&format!("{}{}", prefixes[i], start_line(dir, device, &data, step)));
            Ok(step)
        });
        match step {
            Ok(step) => groups.entry(step).or_default().push(i),
            Err(e) => attempts[i] = Some(Ok(Err(e))),
        }
    }
    let resumed: Vec<bool> = (0..dirs.len()).map(|i| groups.iter().any(|(step, members)| step.is_some() && members.contains(&i))).collect();
    let mut observers: Vec<CsvObserver> = dirs.iter().map(|d| CsvObserver::new(d, stop.clone(), true)).collect();
    let mut outcomes: Vec<Option<Result<train::Outcome, train::TrainError>>> = dirs.iter().map(|_| None).collect();
    let mut mates: Vec<Vec<String>> = dirs.iter().map(|_| Vec::new()).collect();
    for (step, members) in &groups {
        for &i in members {
            mates[i] = members.iter().filter(|&&j| j != i).map(|&j| dirs[j].id()).collect();
            if !mates[i].is_empty() {
                say(&format!("{}pack: trains with {}", prefixes[i], mates[i].join(", ")));
            }
        }
        let mut slots: Vec<(usize, &mut CsvObserver)> = observers.iter_mut().enumerate().filter(|(i, _)| members.contains(i)).collect();
        let pack: Vec<train::PackMember> = slots
            .iter_mut()
            .map(|(i, o)| train::PackMember {
                config: configs[*i].as_ref().expect("grouped members have configs"),
                observer: &mut **o,
                resume_from: step.map(|_| resume_paths[*i].as_path()),
            })
            .collect();
        let results = catch_unwind(AssertUnwindSafe(|| train::train_packed(pack, &data, device)));
        match results {
            Ok(results) => {
                for (&i, r) in members.iter().zip(results) {
                    outcomes[i] = Some(r);
                }
            }
            Err(_) => {
                for &i in members {
                    attempts[i] = Some(Ok(Err(anyhow::anyhow!("{}: panic while training", train::packed::PACK_FAILED))));
                }
            }
        }
    }
    for (i, dir) in dirs.iter().enumerate() {
        let Some(outcome) = outcomes[i].take() else { continue };
        let config = configs[i].as_ref().expect("trained members have configs");
        let observer = &mut observers[i];
        let attempt = catch_unwind(AssertUnwindSafe(|| -> anyhow::Result<Summary> {
            let (out, packed_with) = match outcome {
                // A saved state that does not load: this member starts over, alone.
                Err(e) if resumed[i] && unusable_state(&e, dir) => {
                    say(&format!("{}warning: {e}; restarting this run from scratch", prefixes[i]));
                    fresh_logs(dir)?;
                    (train::train(config, &data, device, observer, None)?, Vec::new())
                }
                other => (other?, std::mem::take(&mut mates[i])),
            };
            let mut summary = finish(dir, config, params[i].clone(), &tokenizer, &data, out, observer.error.take(), start, &prefixes[i])?;
            summary.packed_with = packed_with;
            Ok(summary)
        }));
        attempts[i] = Some(attempt);
    }
    params.into_iter().zip(attempts).map(|(p, a)| (p, a.unwrap_or_else(|| Ok(Err(anyhow::anyhow!("not trained")))))).collect()
}
