//! Command-line arguments (clap derive).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use sweep::report::Format;

#[derive(Parser, Debug)]
#[command(name = "sweep", version, about = "Hyperparameter sweeps for small GPT language models, trained with libtorch")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train one model per run of a sweep spec (grid, random or TPE); finished runs are skipped on rerun
    Run(RunArgs),
    /// Tokenize a spec's corpus into the token cache (what `sweep run` does first), and say
    /// how many tokens it holds
    Prepare(PrepareArgs),
    /// Rank the runs of a sweep and show what each swept parameter did
    Report(ReportArgs),
    /// Generate text from a trained run's checkpoint
    Sample(SampleArgs),
    /// Explain a loss curve: a run folder, a sweep folder (every run), or a nanoGPT training log
    Diagnose(DiagnoseArgs),
    /// Overlay the loss curves of any runs, from any sweeps, in one picture
    Compare(CompareArgs),
    /// Fit a scaling law L(N, D) = E + A/N^α + B/D^β across a sweep's runs: intervals, the
    /// compute-optimal size and data for larger budgets, and what the fit cannot support
    Fit(FitArgs),
    /// Write the spec of the next sweep from a finished one, every line with its reason
    Next(NextArgs),
    /// What every run of a sweep is doing now (pending, running where and at which step, or
    /// how it ended), and for a Slurm sweep its job array's tasks
    Status(StatusArgs),
    /// Cancel a sweep's Slurm job array; its runs stay resumable and the same `sweep run` resubmits them
    Cancel(CancelArgs),
    /// Train one prepared run folder (used by `sweep run`; one process per trial)
    #[command(hide = true)]
    Trial(TrialArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The sweep spec, e.g. sweeps/feiniao.yaml
    pub spec: PathBuf,
    /// Folder that receives <sweep name>/<run id>/
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// Runs trained at once [default: one per CPU core, or 1 on a GPU]
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Print the plan (runs, parameters, tokens, epochs, estimated cost) and train nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also rerun runs that failed before (done and diverged runs are kept)
    #[arg(long)]
    pub retry_failed: bool,
    /// Also continue runs that early termination pruned, from their checkpoint to the end
    #[arg(long)]
    pub resume_pruned: bool,
    /// Override the spec's device for every run: auto, cpu, cuda or cuda:N
    #[arg(long)]
    pub device: Option<String>,
    /// Train up to N runs of one shape (differing only in lr, dropout, seed, weight decay,
    /// warmup, clipping) together as one packed model [default: up to 8 for small models on
    /// a GPU; none on a CPU, where packing was measured slower]
    #[arg(long, value_name = "N", value_parser = pack_members, conflicts_with = "no_pack")]
    pub pack: Option<usize>,
    /// Train every run alone in its own process
    #[arg(long)]
    pub no_pack: bool,
    /// GPUs to train on: all (every GPU CUDA_VISIBLE_DEVICES shows) or indices, e.g. 0,2,5
    #[arg(long, default_value = "all", value_name = "all|0,2,5")]
    pub gpus: String,
    /// Trials sharing one GPU: auto (as many as fit in its free memory by the estimate of
    /// --dry-run) or N
    #[arg(long, default_value = "auto", value_name = "auto|N")]
    pub trials_per_gpu: String,
    /// Where runs train: on this machine, or as a Slurm job array (one task per run) that
    /// `sweep run` submits and returns from
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    #[command(flatten)]
    pub slurm: SlurmArgs,
    /// Run as one task of a Slurm job array (submit.sbatch passes it): train one run, take
    /// over runs whose worker died, exit
    #[arg(long, hide = true)]
    pub array_task: bool,
}

#[derive(clap::Args, Debug)]
pub struct PrepareArgs {
    /// The sweep spec whose data to tokenize, e.g. sweeps/fineweb.yaml
    pub spec: PathBuf,
    /// The runs folder `sweep run` will use; the cache is <out>/.tokens unless data.cache says
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Local,
    Slurm,
}

/// sbatch settings; each overrides the spec's `slurm:` section.
#[derive(clap::Args, Debug, Default)]
#[command(next_help_heading = "Slurm (with --backend slurm; each overrides the spec's slurm: section)")]
pub struct SlurmArgs {
    /// Partition (queue) the tasks run in
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs each task gets
    #[arg(long, value_name = "N")]
    pub gpus_per_task: Option<u64>,
    /// CPU cores each task gets (also the trial's libtorch threads)
    #[arg(long, value_name = "N")]
    pub cpus_per_task: Option<u64>,
    /// Memory each task gets, e.g. 16G
    #[arg(long)]
    pub mem: Option<String>,
    /// Time limit of each task, e.g. 01:30:00; the trial saves its state before it
    #[arg(long, value_name = "HH:MM:SS")]
    pub time: Option<String>,
    /// Tasks running at once [default: all]
    #[arg(long, value_name = "K")]
    pub max_parallel: Option<u64>,
    /// One more sbatch option, e.g. --sbatch-arg=--account=lab (repeat for more)
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_arg: Vec<String>,
}

impl SlurmArgs {
    pub fn settings(&self) -> sweep::exec::slurm::Settings {
        sweep::exec::slurm::Settings {
            partition: self.partition.clone(),
            gpus_per_task: self.gpus_per_task,
            cpus_per_task: self.cpus_per_task,
            mem: self.mem.clone(),
            time: self.time.clone(),
            max_parallel: self.max_parallel,
            sbatch_args: self.sbatch_arg.clone(),
        }
    }

    /// The flags given, as the user typed them, for "applies only to --backend slurm".
    pub fn given(&self) -> Vec<&'static str> {
        let s = self.settings();
        [
            ("--partition", s.partition.is_some()),
            ("--gpus-per-task", s.gpus_per_task.is_some()),
            ("--cpus-per-task", s.cpus_per_task.is_some()),
            ("--mem", s.mem.is_some()),
            ("--time", s.time.is_some()),
            ("--max-parallel", s.max_parallel.is_some()),
            ("--sbatch-arg", !s.sbatch_args.is_empty()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }
}

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Run folders, e.g. runs/feiniao/bs16_blk32_emb64_L2_lr1e-3_do0.1 runs/other/…
    #[arg(required = true, num_args = 1..)]
    pub run_dirs: Vec<PathBuf>,
    /// The picture to write: .png, or .svg
    #[arg(long, short = 'o', default_value = "compare.png")]
    pub output: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct FitArgs {
    /// A sweep folder, e.g. runs/scaling
    pub sweep_dir: PathBuf,
    /// Also fit each evaluation of runs whose learning rate does not decay (a cosine cut
    /// short is not a shorter run, so decaying runs give only their final loss)
    #[arg(long)]
    pub use_evals: bool,
    /// Also the compute-optimal size, data and loss at this budget, in FLOPs (e.g. 1e18)
    #[arg(long, value_name = "FLOPS")]
    pub budget_flops: Option<f64>,
    /// Predict the final val loss of this run folder (one the fit did not see) from its N and D
    #[arg(long, value_name = "RUN_DIR")]
    pub predict_run: Option<PathBuf>,
    /// text, or json (the fit, its intervals and the prediction, for scripts)
    #[arg(long, default_value = "text")]
    pub format: String,
}

#[derive(clap::Args, Debug)]
pub struct NextArgs {
    /// A finished sweep folder, e.g. runs/feiniao
    pub sweep_dir: PathBuf,
    /// Where to write the spec [default: sweeps/<name>_next.yaml]
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Move sizes and max_iters along the fitted compute-optimal frontier to this budget, in FLOPs
    #[arg(long, value_name = "FLOPS", conflicts_with = "budget_hours")]
    pub budget_flops: Option<f64>,
    /// The same, as hours of this sweep's measured training throughput (FLOP/s)
    #[arg(long, value_name = "HOURS")]
    pub budget_hours: Option<f64>,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// A sweep folder such as runs/feiniao [default: the most recently changed folder in runs/]
    pub sweep_dir: Option<PathBuf>,
    /// List every pending run, not only how many there are
    #[arg(long)]
    pub all: bool,
}

#[derive(clap::Args, Debug)]
pub struct CancelArgs {
    /// The sweep folder whose Slurm job arrays to cancel, such as runs/feiniao
    pub sweep_dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A sweep folder such as runs/feiniao [default: the most recently changed folder in runs/]
    pub sweep_dir: Option<PathBuf>,
    /// Rank by this metric from summary.json (val_loss, final_val_loss, perplexity, wall_seconds, …) or parameter
    #[arg(long, default_value = "val_loss")]
    pub by: String,
    /// Highest first instead of lowest first
    #[arg(long)]
    pub desc: bool,
    /// Show only the best K runs (K at least 1) [default: 10 in the terminal table, all otherwise]
    #[arg(long, value_parser = at_least_one)]
    pub top: Option<usize>,
    /// Show the Pareto front over the spec's objectives (val_loss and params when it lists fewer than two)
    #[arg(long)]
    pub pareto: bool,
    /// Terminal table, Markdown, CSV or JSON
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write the sweep's HTML report (index.html, with charts in plots/) and print its path
    #[arg(long)]
    pub html: bool,
}

#[derive(clap::Args, Debug)]
pub struct SampleArgs {
    /// A run folder, e.g. runs/feiniao/bs16_blk32_emb64_L2_lr1e-3_do0.1
    pub run_dir: PathBuf,
    /// Text to continue (repeat for several prompts) [default: the spec's prompts]
    #[arg(long, short = 'p')]
    pub prompt: Vec<String>,
    /// New tokens per prompt [default: the spec's max_new_tokens]
    #[arg(long, short = 'n')]
    pub max_new_tokens: Option<usize>,
    /// Softmax temperature [default: the spec's temperature]
    #[arg(long, short = 't')]
    pub temperature: Option<f64>,
    /// Sample only among the K most likely tokens [default: the spec's top_k]
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Sampling seed; the same seed gives the same text
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// cpu, cuda or auto
    #[arg(long, default_value = "auto")]
    pub device: String,
}

#[derive(clap::Args, Debug)]
pub struct TrialArgs {
    /// One run folder, or several of one shape to train packed into one model
    #[arg(required = true, num_args = 1..)]
    pub run_dirs: Vec<PathBuf>,
    /// libtorch intra-op threads for this trial
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

#[derive(clap::Args, Debug)]
pub struct DiagnoseArgs {
    /// A run folder, a sweep folder, or a nanoGPT-style training log file
    pub target: PathBuf,
    /// Readable text, or JSON for scripts
    #[arg(long, value_enum, default_value_t = DiagnoseFormat::Text)]
    pub format: DiagnoseFormat,
    /// Log only: run name or claimed size (e.g. gpt2-125M), if the log has none
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub name: Option<String>,
    /// Log only: tokens per optimizer step (or give --batch-size, --block-size, --grad-accum)
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub tokens_per_iter: Option<u64>,
    /// Log only: sequences per micro-batch
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub batch_size: Option<u64>,
    /// Log only: context length in tokens
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub block_size: Option<u64>,
    /// Log only: gradient accumulation steps
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub grad_accum: Option<u64>,
    /// Log only: tokens in the training split (or give --train-bin)
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub train_tokens: Option<u64>,
    /// Log only: nanoGPT's train.bin (uint16 tokens); its size gives the training tokens
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub train_bin: Option<PathBuf>,
    /// Log only: dropout probability
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub dropout: Option<f64>,
    /// Log only: peak learning rate (with --min-lr, --warmup-iters, --lr-decay-iters: the schedule)
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub lr: Option<f64>,
    /// Log only: learning rate at the end of the cosine decay
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub min_lr: Option<f64>,
    /// Log only: linear warmup steps
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub warmup_iters: Option<u64>,
    /// Log only: step where the cosine decay ends
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub lr_decay_iters: Option<u64>,
    /// Log only: the GPU the run used (H100, H200, A100, RTX 4090, …), to rescale nanoGPT's A100-based MFU; without it, a GPU named in the file name or the log is used
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub gpu: Option<String>,
    /// Log only: a file of generated text, checked for verbatim copies of --train-text
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub samples: Option<PathBuf>,
    /// Log only: the training text, for the memorisation check
    #[arg(long, help_heading = "For nanoGPT logs")]
    pub train_text: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum DiagnoseFormat {
    Text,
    Json,
}

/// A count that must be 1 or more (`--top 0` would show an empty table).
fn pack_members(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1 (--no-pack trains every run alone)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1 (leave --top out to show every run)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}
