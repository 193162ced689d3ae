//! The spec's `slurm:` section: what each array task asks Slurm for, overridden by
//! `sweep run --backend slurm` flags (`exec::slurm` submits with it). Values are checked here, before anything is submitted,
//! in the words sbatch would need.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `--partition`: the partition (queue) to run in [default: the cluster's default].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// `--gpus-per-task` [default: none; the trials train on the CPU].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus_per_task: Option<u64>,
    /// `--cpus-per-task`: also the trial's libtorch threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus_per_task: Option<u64>,
    /// `--mem`: memory per task, e.g. 16G.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<String>,
    /// `--time`: each task's time limit, e.g. 01:30:00 or 2-00:00:00.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Array tasks running at once (`--array=0-N%K`) [default: all].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u64>,
    /// More `#SBATCH` lines, as sbatch options: `--account=lab`, `--qos=short`, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbatch_args: Vec<String>,
}

/// Seconds before the time limit at which Slurm signals a task to save and stop.
pub const SIGNAL_LEAD_SECS: u64 = 120;

impl Settings {
    /// These settings with every value `over` gives replacing ours (flags over the spec);
    /// sbatch arguments add up.
    pub fn overridden_by(&self, over: &Settings) -> Settings {
        Settings {
            partition: over.partition.clone().or_else(|| self.partition.clone()),
            gpus_per_task: over.gpus_per_task.or(self.gpus_per_task),
            cpus_per_task: over.cpus_per_task.or(self.cpus_per_task),
            mem: over.mem.clone().or_else(|| self.mem.clone()),
            time: over.time.clone().or_else(|| self.time.clone()),
            max_parallel: over.max_parallel.or(self.max_parallel),
            sbatch_args: self.sbatch_args.iter().chain(&over.sbatch_args).cloned().collect(),
        }
    }

    /// What is wrong with these values, each as "key value: why", in the spec's key names.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(t) = &self.time
            && let Err(why) = time_seconds(t)
        {
            out.push(("time", format!("time {t:?} {why}")));
        }
        if let Some(m) = &self.mem
            && !mem_ok(m)
        {
            out.push(("mem", format!("mem {m:?} must be a whole number with an optional unit K, M, G or T (e.g. 16G), as sbatch --mem takes")));
        }
        for (key, value) in [("gpus_per_task", self.gpus_per_task), ("cpus_per_task", self.cpus_per_task), ("max_parallel", self.max_parallel)] {
            if value == Some(0) {
                out.push((key, format!("{key} 0 must be at least 1 (leave it out for the default)")));
            }
        }
        if let Some(p) = &self.partition
            && (p.is_empty() || p.chars().any(char::is_whitespace))
        {
            out.push(("partition", format!("partition {p:?} must be one partition name, without spaces (sinfo lists them)")));
        }
        for arg in &self.sbatch_args {
            // Options sweep sets itself: the array and its throttle, the task logs, the signal.
            let reserved = ["--array", "-a", "--output", "-o", "--error", "-e", "--open-mode", "--signal"];
            let name = arg.split(['=', ' ']).next().unwrap_or_default();
            if !arg.starts_with('-') || arg.contains(char::is_whitespace) {
                out.push((
                    "sbatch_args",
                    format!("sbatch_args item {arg:?} must be one sbatch option such as --account=lab or --qos=short, written with = and no spaces"),
                ));
            } else if reserved.contains(&name) || (name.len() > 2 && !name.starts_with("--") && name.get(..2).is_some_and(|short| reserved.contains(&short))) {
                out.push((
                    "sbatch_args",
                    format!("sbatch_args item {arg:?} is set by sweep itself (--max-parallel sets the array's throttle; logs go to the sweep's slurm/ folder)"),
                ));
            }
        }
        out
    }

    /// Seconds before the time limit at which each task is told to save and stop: two
    /// minutes, or a quarter of a short limit.
    pub fn signal_lead_secs(&self) -> u64 {
        match self.time.as_deref().and_then(|t| time_seconds(t).ok()) {
            Some(limit) => SIGNAL_LEAD_SECS.min(limit / 4).max(1),
            None => SIGNAL_LEAD_SECS,
        }
    }
}

/// Seconds in a Slurm time limit: "minutes", "minutes:seconds", "hours:minutes:seconds",
/// "days-hours", "days-hours:minutes" or "days-hours:minutes:seconds".
pub fn time_seconds(text: &str) -> Result<u64, String> {
    let bad = || "must be a Slurm time limit such as 90 (minutes), 01:30:00 or 2-00:00:00 (days-hours:minutes:seconds)".to_string();
    let num = |s: &str| if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) { s.parse::<u64>().map_err(|_| bad()) } else { Err(bad()) };
    let (days, rest) = match text.split_once('-') {
        Some((d, rest)) => (Some(num(d)?), rest),
        None => (None, text),
    };
    let parts: Vec<u64> = rest.split(':').map(num).collect::<Result<_, _>>()?;
    // [days, hours, minutes, seconds] as written.
    let dhms: [u64; 4] = match (days, parts.as_slice()) {
        (None, [m]) => [0, 0, *m, 0],
        (None, [m, s]) => [0, 0, *m, *s],
        (None, [h, m, s]) => [0, *h, *m, *s],
        (Some(d), [h]) => [d, *h, 0, 0],
        (Some(d), [h, m]) => [d, *h, *m, 0],
        (Some(d), [h, m, s]) => [d, *h, *m, *s],
        _ => return Err(bad()),
    };
    let secs = dhms.iter().zip([86_400u64, 3600, 60, 1]).try_fold(0u64, |acc, (n, unit)| acc.checked_add(n.checked_mul(unit)?)).ok_or_else(bad)?;
    if secs == 0 { Err("is zero; give each task time to train (e.g. 01:00:00)".into()) } else { Ok(secs) }
}

fn mem_ok(m: &str) -> bool {
    let digits = m.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    !digits.is_empty() && digits.len() + 1 >= m.len() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_time_limits_read_as_sbatch_reads_them() {
        assert_eq!(time_seconds("90"), Ok(5400));
        assert_eq!(time_seconds("10:30"), Ok(630));
        assert_eq!(time_seconds("01:30:00"), Ok(5400));
        assert_eq!(time_seconds("2-00"), Ok(172_800));
        assert_eq!(time_seconds("1-02:03"), Ok(93_780));
        assert_eq!(time_seconds("1-00:00:01"), Ok(86_401));
        for bad in ["", "1h", "1:2:3:4", "-1", "a-01:00", "00:00:00", "99999999999999999999", "999999999999999-00"] {
            assert!(time_seconds(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn problems_name_the_key_and_the_fix() {
        let s = Settings {
            time: Some("1h".into()),
            mem: Some("16GB".into()),
            cpus_per_task: Some(0),
            sbatch_args: vec!["account=lab".into(), "--array=0-3".into(), "--qos=short".into(), "-o".into(), "--account lab".into()],
            ..Default::default()
        };
        let keys: Vec<&str> = s.problems().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["time", "mem", "cpus_per_task", "sbatch_args", "sbatch_args", "sbatch_args", "sbatch_args"]);
        assert!(Settings { mem: Some("512M".into()), time: Some("30".into()), ..Default::default() }.problems().is_empty());
    }

    #[test]
    fn flags_override_the_spec_and_the_signal_comes_before_the_limit() {
        let spec = Settings { partition: Some("gpu".into()), time: Some("04:00:00".into()), sbatch_args: vec!["--qos=a".into()], ..Default::default() };
        let flags = Settings { time: Some("4".into()), sbatch_args: vec!["--account=b".into()], ..Default::default() };
        let s = spec.overridden_by(&flags);
        assert_eq!((s.partition.as_deref(), s.time.as_deref()), (Some("gpu"), Some("4")));
        assert_eq!(s.sbatch_args, ["--qos=a", "--account=b"]);
        assert_eq!(s.signal_lead_secs(), 60, "a quarter of a 4-minute limit");
        assert_eq!(spec.signal_lead_secs(), SIGNAL_LEAD_SECS);
    }
}
