//! Integration tests: they run the real `sweep` binary on corpora the tests write
//! themselves, on CPU. One test binary; one module per behaviour.

/// Temporary sweep folders and running the `sweep` binary.
mod util;

/// A real 2×2 sweep: every artifact of every run, the report, sampling, rerun skipping.
mod e2e;

/// Runs that fail, and spec or data errors that stop a sweep before it trains anything.
mod failures;

/// Every spec mistake found before training, at its own line, in a person's words.
mod spec_errors;

/// The Debian packages the tests need: installed once by set-up, in one apt-get call, under
/// a lock; tests only check that they are there.
mod system_packages;

/// The crates' layering: only train names tch; sweep, diagnose, corpus and config never link it.
mod layers;

/// A clone needs nothing beside it: no reference to the shared folder, every corpus tracked.
mod self_contained;

/// `sweep diagnose` on real runs (memorising, healthy) and on a nanoGPT log.
mod diagnose;

/// Kills, Ctrl-C, several workers, crashing and diverging trials, and bad input.
mod reliability;

/// A full output filesystem (a tmpfs the test mounts) stops the sweep cleanly; a rerun finishes it.
mod disk_full;

/// Early termination on a real corpus: ASHA prunes losing runs, keeps the best, saves steps.
mod early_stop;

/// Packed trials: the plan's packs, and packed runs that leave what lone runs leave.
mod packing;

/// The report: index.html in headless Chromium (nothing missing, one row per run, sortable),
/// and seed-repeated grids (mean ± std per configuration, verdicts against seed noise).
mod report_html;

/// `sweep status` of a local sweep: running, orphaned and finished runs.
mod status;

/// The Slurm backend against a real single-node Slurm: submit, cancel and resubmit, a killed
/// task's run taken over, TPE and early termination through array tasks.
mod slurm;

/// Real corpora: GPT-2 ids equal tiktoken's; parquet, JSONL and nanoGPT folders trained on
/// through the token cache; bad data named with its file; memory flat in corpus size.
mod corpora;

/// GPU placement on a CPU machine, with the fake inventory `SWEEP_FAKE_GPUS`: trials spread
/// over the GPUs, each process sees one (`CUDA_VISIBLE_DEVICES`), out of memory beside
/// others is retried, and `--gpus` picks a subset.
mod gpus;

/// `sweep fit` and `sweep next` on a real (tiny) sweep: the fit's text and warnings, and a
/// next spec whose dry run passes unchanged.
mod fit_next;
