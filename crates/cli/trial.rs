//! `sweep trial RUN_DIR…` (hidden): one trial process, started by `sweep run` (`trial::trial`).

use crate::args::TrialArgs;

pub fn trial(a: TrialArgs) -> anyhow::Result<u8> {
    trial::trial(&a.run_dirs, a.threads)
}
