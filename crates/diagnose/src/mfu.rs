//! Model FLOPs utilisation: achieved training FLOP/s over the peak of the device the run
//! actually used. nanoGPT always divides by the A100's peak, so its MFU reads over 100% on
//! an H100; here the peak comes from the device's name.

use crate::thresholds::LOW_MFU;
use crate::{Evidence, Finding, Severity};

/// Dense bf16/fp16 tensor-core peak FLOP/s (with fp32 accumulation), from the vendors'
/// datasheets. Matched by substring of the device name, first match wins, so more specific
/// names come first.
pub const PEAK_FLOPS: &[(&str, f64)] = &[
    ("H100 PCIe", 756e12),
    ("H100", 989e12), // SXM
    ("H200", 989e12),
    ("A100", 312e12),
    ("RTX 4090", 165.2e12),
    ("RTX 4070", 58.3e12),
];

/// The peak nanoGPT's estimate_mfu divides by: A100 bf16.
pub const NANOGPT_ASSUMED_PEAK: f64 = 312e12;

/// Peak FLOP/s of a GPU by name, e.g. "NVIDIA H100 80GB HBM3"; None for CPUs and unknown GPUs.
pub fn peak_flops(device: &str) -> Option<f64> {
    let d = device.to_ascii_uppercase();
    PEAK_FLOPS.iter().find(|(name, _)| d.contains(&name.to_ascii_uppercase())).map(|(_, p)| *p)
}

pub fn check(e: &Evidence, out: &mut Vec<Finding>) {
    let logged = {
        let v: Vec<f64> = e.iters.iter().filter_map(|i| i.mfu).filter(|m| *m > 0.0).collect();
        (!v.is_empty()).then(|| v[v.len() / 2..].iter().sum::<f64>() / (v.len() - v.len() / 2) as f64)
    };
    let device = e.device.as_deref();
    if device.is_some_and(|d| d.eq_ignore_ascii_case("cpu")) {
        out.push(Finding::new(
            "mfu_not_estimated",
            Severity::Info,
            "MFU is not estimated on CPU: there is no reliable peak FLOP/s to divide by".into(),
            e.tokens_per_second.map_or("no throughput recorded".into(), |t| format!("{t:.0} tokens/s")),
            "none".into(),
        ));
        return;
    }
    let peak = device.and_then(peak_flops);
    let (mfu, how) = match (e.tokens_per_second, e.flops_per_token, peak, logged) {
        (Some(tps), Some(fpt), Some(peak), _) => {
            (tps * fpt / peak, format!("{tps:.0} tokens/s × {fpt:.3e} FLOPs/token / {peak:.3e} peak FLOP/s of {}", device.unwrap_or_default()))
        }
        (_, _, Some(peak), Some(m)) => (
            m * NANOGPT_ASSUMED_PEAK / peak,
            format!("logged MFU {:.1}% assumes an A100 (312 TFLOP/s); rescaled to {} ({:.0} TFLOP/s)", m * 100.0, device.unwrap_or_default(), peak / 1e12),
        ),
        (_, _, None, Some(m)) if m > 1.0 => {
            out.push(Finding::new(
                "mfu_over_100",
                Severity::Warning,
                format!("the log reports MFU {:.0}%, which is impossible: nanoGPT divides by the A100's peak and this GPU is faster", m * 100.0),
                format!("mean logged mfu over the second half of the iter lines: {:.1}%", m * 100.0),
                "pass the GPU model (--gpu H100) to get the real MFU".into(),
            ));
            return;
        }
        (_, _, None, Some(m)) => (m, format!("logged MFU {:.1}%, which assumes an A100 (pass --gpu to rescale)", m * 100.0)),
        _ => return,
    };
    if mfu < LOW_MFU {
        out.push(Finding::new(
            "low_mfu",
            Severity::Warning,
            format!("low MFU: the GPU does useful model math {:.1}% of the time", mfu * 100.0),
            how,
            "raise batch_size (or grad_accum_steps), use bf16, run several small trials per GPU (--jobs), or make the model wider".into(),
        ));
    } else {
        out.push(Finding::new("mfu", Severity::Info, format!("MFU {:.1}%", mfu * 100.0), how, "none".into()));
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
    }
}
