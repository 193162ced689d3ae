//! SIGINT, SIGTERM and SIGUSR1 (Slurm's warning before the time limit) for a sweep: the
//! first stops new trials and forwards SIGINT to the running ones (they checkpoint and
//! stop); a second Ctrl-C kills them and calls the caller's `exit` (only the binary ends
//! the process).

use crate::exec::control::{Control, lock};
use std::sync::Arc;

/// Starts the thread that handles the signals; close the handle to stop it.
pub fn handle_signals(control: Arc<Control>, exit: fn() -> !) -> anyhow::Result<signal_hook::iterator::Handle> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGUSR1])?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        // Counted here, not by `stopping`: a sweep already stopping for a full disk still
        // lets its trials save on the user's first Ctrl-C.
        let mut first: Option<i32> = None;
        for signal in signals.forever() {
            let running = control.children.pids().len();
            let why = match signal {
                SIGUSR1 => "stopped by SIGUSR1: the Slurm time limit was near (--signal)",
                SIGTERM => "stopped by SIGTERM (scancel, preemption or a shutdown)",
                _ => "stopped by SIGINT (Ctrl-C)",
            };
            lock(&control.stopped_by).get_or_insert_with(|| why.to_string());
            // Slurm signals every process of a job and its batch shell passes signals on too:
            // a TERM or USR1 after a TERM or USR1 is the same request, not a second Ctrl-C.
            let repeat = first.is_some_and(|f| f != SIGINT) && signal != SIGINT;
            if repeat {
                continue;
            }
            let is_first = first.is_none();
            first.get_or_insert(signal);
            if is_first {
                control.stop();
                let again = if signal == SIGINT { " (Ctrl-C again to stop at once)" } else { "" };
                eprintln!("\nstopping ({why}): no new runs; {running} running run(s) save their state and stop{again}");
            } else {
                for pid in control.children.pids() {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                }
                eprintln!("stopped at once; runs resume from their last checkpoint on the next `sweep run`");
                exit();
            }
        }
    });
    Ok(handle)
}
