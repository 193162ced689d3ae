//! Model FLOPs utilisation: achieved training FLOP/s over the peak of the device the run
//! actually used. nanoGPT always divides by the A100's peak, so its MFU reads over 100% on
//! an H100 and far too low on a small GPU; here the peak comes from the device's name: the
//! run's own record, `--gpu`, or a GPU named in the log or its file name.

use crate::thresholds::{GOOD_MFU, LOW_MFU, PLAUSIBLE_MFU};
use crate::{Evidence, Finding, Severity};

/// Dense bf16/fp16 tensor-core peak FLOP/s (with fp32 accumulation), from the vendors'
/// datasheets. Matched by substring of the device name, first match wins, so more specific
/// names come first (A100 before A10, L40S and L40 before L4).
pub const PEAK_FLOPS: &[(&str, f64)] = &[
    ("H100 PCIe", 756e12),
    ("H100", 989e12), // SXM
    ("H200", 989e12),
    ("A100", 312e12),
    ("A10", 125e12),
    ("V100", 125e12),
    ("L40S", 362e12),
    ("L40", 181e12),
    ("L4", 121e12),
    ("T4", 65e12),
    ("RTX 4090", 165.2e12),
    ("RTX 4080", 97.5e12),
    ("RTX 4070", 58.3e12),
    ("RTX 3090", 71e12),
];

/// The peak nanoGPT's estimate_mfu divides by: A100 bf16.
pub const NANOGPT_ASSUMED_PEAK: f64 = 312e12;

/// Peak FLOP/s of a GPU by name, e.g. "NVIDIA H100 80GB HBM3"; None for CPUs and unknown GPUs.
pub fn peak_flops(device: &str) -> Option<f64> {
    let d = device.to_ascii_uppercase();
    PEAK_FLOPS.iter().find(|(name, _)| d.contains(&name.to_ascii_uppercase())).map(|(_, p)| *p)
}

/// A GPU named in free text ("owt_rtx4070.log", "# on an a100"), as the table names it.
pub fn gpu_named_in(text: &str) -> Option<&'static str> {
    let re = regex::Regex::new(
        r"(?i)(?:^|[^a-z0-9])(?:nvidia[ _-]?)?(?:geforce[ _-]?)?(?:rtx[ _-]?)?(h100|h200|a100|a10|v100|l40s|l40|l4|t4|4090|4080|4070|3090)(?:$|[^a-z0-9])",
    )
    .expect("valid regex");
    let word = re.captures(text)?.get(1)?.as_str().to_ascii_uppercase();
    PEAK_FLOPS.iter().map(|(name, _)| *name).find(|name| name.trim_start_matches("RTX ") == word)
}

/// What an MFU means for someone deciding whether to tune the training loop.
fn meaning(mfu: f64) -> &'static str {
    if mfu >= GOOD_MFU {
        "the GPU is well used (most of its time goes to model math), so tuning the training loop will not make this run much faster; a faster GPU or fewer FLOPs would"
    } else {
        "moderate: a larger batch, bf16 or torch.compile may still gain"
    }
}

pub fn check(e: &Evidence, out: &mut Vec<Finding>) {
    let logged = {
        let v: Vec<f64> = e.iters.iter().filter_map(|i| i.mfu).filter(|m| *m > 0.0).collect();
        (!v.is_empty()).then(|| v[v.len() / 2..].iter().sum::<f64>() / (v.len() - v.len() / 2) as f64)
    };
    let device = e.device.as_deref();
    let host =
        device.and_then(|d| if d.eq_ignore_ascii_case("cpu") { Some("CPU") } else { d.to_ascii_lowercase().starts_with("mps").then_some("Apple's GPU (mps)") });
    if let Some(host) = host {
        out.push(Finding::new(
            "mfu_not_estimated",
            Severity::Info,
            format!("MFU is not estimated on {host}: there is no reliable peak FLOP/s to divide by"),
            e.tokens_per_second.map_or("no throughput recorded".into(), |t| format!("{t:.0} tokens/s")),
            "none".into(),
        ));
        return;
    }
    let peak = device.and_then(peak_flops);
    let named = match (device, &e.device_source) {
        (Some(d), Some(source)) => format!(" on the {d} named in {source}"),
        (Some(d), None) => format!(" on the {d}"),
        _ => String::new(),
    };
    let (mfu, how) = match (e.tokens_per_second, e.flops_per_token, peak, logged) {
        (Some(tps), Some(fpt), Some(peak), _) => {
            (tps * fpt / peak, format!("{tps:.0} tokens/s × {fpt:.3e} FLOPs/token / {peak:.3e} peak FLOP/s of {}", device.unwrap_or_default()))
        }
        (_, _, Some(peak), Some(m)) if m * NANOGPT_ASSUMED_PEAK / peak > PLAUSIBLE_MFU => {
            out.push(Finding::new(
                "mfu_over_100",
                Severity::Warning,
                format!(
                    "the logged MFU {:.0}% would be {:.0}%{named}: beyond what dense training reaches, so the run used a faster GPU",
                    m * 100.0,
                    m * NANOGPT_ASSUMED_PEAK / peak * 100.0
                ),
                format!("mean logged mfu over the second half of the iter lines: {:.1}% of the A100's 312 TFLOP/s", m * 100.0),
                "pass the GPU model (--gpu H100) to get the real MFU".into(),
            ));
            return;
        }
        (_, _, Some(peak), Some(m)) => (
            m * NANOGPT_ASSUMED_PEAK / peak,
            format!(
                "logged MFU {:.1}% assumes an A100 (312 TFLOP/s); × 312 / {:.1} TFLOP/s of the {} = {:.1}%",
                m * 100.0,
                peak / 1e12,
                device.unwrap_or_default(),
                m * NANOGPT_ASSUMED_PEAK / peak * 100.0
            ),
        ),
        (_, _, None, Some(m)) if m > 1.0 => {
            let unknown = device.map(|d| format!(" ({d:?} is not in the table of GPU peaks)")).unwrap_or_default();
            out.push(Finding::new(
                "mfu_over_100",
                Severity::Warning,
                format!("the log reports MFU {:.0}%, which is impossible: nanoGPT divides by the A100's peak and this GPU is faster{unknown}", m * 100.0),
                format!("mean logged mfu over the second half of the iter lines: {:.1}%", m * 100.0),
                "pass the GPU model (--gpu H100) to get the real MFU".into(),
            ));
            return;
        }
        (_, _, None, Some(m)) => {
            // Nothing names the GPU: the figure is relative to an A100 and not judged.
            let unknown = device.map_or("nothing in the log or its name names the GPU".to_string(), |d| format!("{d} is not in the table of GPU peaks"));
            out.push(Finding::new(
                "mfu",
                Severity::Info,
                format!("MFU {:.1}% relative to an A100, as nanoGPT computes it: {unknown}; on a smaller GPU the real figure is higher", m * 100.0),
                format!("mean logged mfu over the second half of the iter lines: {:.1}% of 312 TFLOP/s", m * 100.0),
                "pass --gpu NAME (e.g. --gpu \"RTX 4070\") to get the MFU of the GPU used".into(),
            ));
            return;
        }
        _ => return,
    };
    if mfu < LOW_MFU {
        out.push(Finding::new(
            "low_mfu",
            Severity::Warning,
            format!("low MFU{named}: the GPU does useful model math {:.1}% of the time", mfu * 100.0),
            how,
            "raise batch_size (or grad_accum_steps), use bf16, run several small trials per GPU (--jobs), or make the model wider".into(),
        ));
    } else {
        out.push(Finding::new("mfu", Severity::Info, format!("MFU {:.1}%{named}: {}", mfu * 100.0, meaning(mfu)), how, "none".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_by_name() {
        assert_eq!(peak_flops("NVIDIA H100 80GB HBM3"), Some(989e12));
        assert_eq!(peak_flops("NVIDIA H100 PCIe"), Some(756e12));
        assert_eq!(peak_flops("NVIDIA A100-SXM4-40GB"), Some(312e12));
        assert_eq!(peak_flops("cpu"), None);
        assert_eq!(peak_flops("NVIDIA L40S"), Some(362e12));
    }

    #[test]
    fn gpus_named_in_words() {
        assert_eq!(gpu_named_in("fineweb_125M_rtx4070.log"), Some("RTX 4070"));
        assert_eq!(gpu_named_in("# trained on an A100 40GB"), Some("A100"));
        assert_eq!(gpu_named_in("NVIDIA GeForce RTX 4090"), Some("RTX 4090"));
        assert_eq!(gpu_named_in("h100-run"), Some("H100"));
        assert_eq!(gpu_named_in("max_iters = 40700"), None);
        assert_eq!(gpu_named_in("a1000 tokens"), None);
        assert_eq!(gpu_named_in("out-shakespeare-char"), None);
    }
}
