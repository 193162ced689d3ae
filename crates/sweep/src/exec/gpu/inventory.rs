//! The GPUs a sweep may use: each one's index, name, total and free memory, from
//! `nvidia-smi --query-gpu` (or, for tests only, `SWEEP_FAKE_GPUS`), restricted to
//! `CUDA_VISIBLE_DEVICES` when it is set and to `--gpus` when given.

use std::process::Command;

/// One GPU as the machine numbers it (nvidia-smi's index, which `CUDA_VISIBLE_DEVICES` takes).
#[derive(Debug, Clone, PartialEq)]
pub struct Gpu {
    pub index: usize,
    pub uuid: String,
    pub name: String,
    pub total_bytes: u64,
    pub free_bytes: u64,
}

/// For tests without a GPU: `SWEEP_FAKE_GPUS="0:Fake A:16000:15000,1:Fake B:8000:8000"`
/// (index:name:total MiB:free MiB, comma-separated) stands for nvidia-smi's answer. Read
/// only when set; nothing else in the sweep treats a fake GPU differently, and trials
/// still run on the CPU.
pub const FAKE_ENV: &str = "SWEEP_FAKE_GPUS";

const MIB: u64 = 1 << 20;

/// The machine's GPUs: the fake list when `SWEEP_FAKE_GPUS` is set, else nvidia-smi's;
/// empty when there is no nvidia-smi or it fails (no driver, no GPU).
pub fn machine() -> Vec<Gpu> {
    if let Ok(fake) = std::env::var(FAKE_ENV) {
        return parse_fake(&fake);
    }
    let out = Command::new("nvidia-smi").args(["--query-gpu=index,uuid,name,memory.total,memory.free", "--format=csv,noheader,nounits"]).output();
    match out {
        Ok(o) if o.status.success() => parse_smi(&String::from_utf8_lossy(&o.stdout)),
        _ => Vec::new(),
    }
}

/// nvidia-smi's CSV: `0, GPU-8f…, NVIDIA H100 80GB HBM3, 81559, 81004` (MiB).
pub fn parse_smi(text: &str) -> Vec<Gpu> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let [index, uuid, name, total, free] = f[..] else { return None };
            Some(Gpu {
                index: index.parse().ok()?,
                uuid: uuid.to_string(),
                name: name.to_string(),
                total_bytes: total.parse::<u64>().ok()? * MIB,
                free_bytes: free.parse::<u64>().ok()? * MIB,
            })
        })
        .collect()
}

fn parse_fake(text: &str) -> Vec<Gpu> {
    text.split(',')
        .filter_map(|g| {
            let f: Vec<&str> = g.split(':').collect();
            let [index, name, total, free] = f[..] else { return None };
            Some(Gpu {
                index: index.trim().parse().ok()?,
                uuid: format!("GPU-fake-{}", index.trim()),
                name: name.to_string(),
                total_bytes: total.trim().parse::<u64>().ok()? * MIB,
                free_bytes: free.trim().parse::<u64>().ok()? * MIB,
            })
        })
        .collect()
}

/// `--gpus`: every visible GPU, or the listed indices.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Choice {
    #[default]
    All,
    Only(Vec<usize>),
}

impl Choice {
    /// `all` or `0,2,5`; a message for anything else.
    pub fn parse(text: &str) -> Result<Choice, String> {
        if text == "all" {
            return Ok(Choice::All);
        }
        let wanted = text
            .split(',')
            .map(|i| i.trim().parse::<usize>().map_err(|_| format!("--gpus {text}: expected all or GPU indices like 0,2,5")))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(twice) = wanted.iter().enumerate().find(|(k, i)| wanted[..*k].contains(i)).map(|(_, i)| i) {
            return Err(format!("--gpus {text} names GPU {twice} twice; name each GPU once"));
        }
        Ok(Choice::Only(wanted))
    }
}

/// The GPUs the sweep may use: those `CUDA_VISIBLE_DEVICES` shows (indices or UUIDs, in its
/// order; all when unset), then those `--gpus` names. A `--gpus` index that is not there
/// is an error naming the ones that are.
pub fn usable(machine: &[Gpu], visible: Option<&str>, choice: &Choice) -> Result<Vec<Gpu>, String> {
    let visible: Vec<Gpu> = match visible.map(str::trim) {
        None => machine.to_vec(),
        Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter_map(|id| match id.parse::<usize>() {
                Ok(i) => machine.iter().find(|g| g.index == i).cloned(),
                Err(_) => machine.iter().find(|g| g.uuid == id || g.uuid.starts_with(id)).cloned(),
            })
            .collect(),
    };
    match choice {
        Choice::All => Ok(visible),
        Choice::Only(wanted) => wanted
            .iter()
            .map(|i| {
                visible.iter().find(|g| g.index == *i).cloned().ok_or_else(|| {
                    let have: Vec<String> = visible.iter().map(|g| g.index.to_string()).collect();
                    format!("--gpus names GPU {i}, which is not here (visible: {})", if have.is_empty() { "none".into() } else { have.join(", ") })
                })
            })
            .collect(),
    }
}

/// The entries of `CUDA_VISIBLE_DEVICES` that name no GPU nvidia-smi lists (a MIG slice's
/// UUID, a typo): the sweep cannot place trials on them, and says so.
pub fn unknown_visible(machine: &[Gpu], visible: &str) -> Vec<String> {
    visible
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .filter(|id| match id.parse::<usize>() {
            Ok(i) => !machine.iter().any(|g| g.index == i),
            Err(_) => !machine.iter().any(|g| g.uuid == *id || g.uuid.starts_with(id)),
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpus() -> Vec<Gpu> {
        parse_smi("0, GPU-aaa, NVIDIA H100 80GB HBM3, 81559, 81004\n1, GPU-bbb, NVIDIA H100 80GB HBM3, 81559, 1000\n2, GPU-ccc, NVIDIA A10, 23028, 22000\n")
    }

    #[test]
    fn nvidia_smi_lines_become_gpus() {
        let g = gpus();
        assert_eq!(g.len(), 3);
        assert_eq!((g[0].index, g[0].name.as_str(), g[0].total_bytes, g[1].free_bytes), (0, "NVIDIA H100 80GB HBM3", 81559 * MIB, 1000 * MIB));
        assert_eq!(parse_fake("0:Fake A:16000:15000,1:Fake B:8000:8000")[1].free_bytes, 8000 * MIB);
    }

    #[test]
    fn cuda_visible_devices_then_gpus_restrict_the_list() {
        let g = gpus();
        let idx = |v: &[Gpu]| v.iter().map(|g| g.index).collect::<Vec<_>>();
        assert_eq!(idx(&usable(&g, None, &Choice::All).unwrap()), [0, 1, 2]);
        assert_eq!(idx(&usable(&g, Some("2,0"), &Choice::All).unwrap()), [2, 0], "in CUDA_VISIBLE_DEVICES's order");
        assert_eq!(idx(&usable(&g, Some("GPU-bbb"), &Choice::All).unwrap()), [1], "by UUID");
        assert!(usable(&g, Some(""), &Choice::All).unwrap().is_empty(), "an empty CUDA_VISIBLE_DEVICES hides every GPU");
        assert_eq!(idx(&usable(&g, None, &Choice::parse("0,2").unwrap()).unwrap()), [0, 2]);
        let err = usable(&g, Some("0,1"), &Choice::parse("2").unwrap()).unwrap_err();
        assert_eq!(err, "--gpus names GPU 2, which is not here (visible: 0, 1)");
        assert!(Choice::parse("first").is_err());
        assert_eq!(unknown_visible(&g, "0,MIG-1234,7,GPU-ccc"), ["MIG-1234", "7"]);
        assert_eq!(Choice::parse("1,1").unwrap_err(), "--gpus 1,1 names GPU 1 twice; name each GPU once");
    }
}
