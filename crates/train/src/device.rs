//! Turning the `device` setting (auto, cpu, cuda, cuda:N) into a libtorch device, naming
//! it, and libtorch's intra-op threads.

use crate::TrainError;
use tch::{Cuda, Device};

pub fn pick_device(setting: &str) -> Result<Device, TrainError> {
    let unavailable = |reason: String| TrainError::Device { requested: setting.to_string(), reason };
    match setting {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        _ => {
            let index = match setting.strip_prefix("cuda") {
                Some("") => 0,
                Some(n) => n.strip_prefix(':').and_then(|n| n.parse::<usize>().ok()).ok_or_else(|| unavailable("expected cuda:N".into()))?,
                None => return Err(unavailable("expected auto, cpu, cuda or cuda:N".into())),
            };
            let count = Cuda::device_count() as usize;
            if index < count { Ok(Device::Cuda(index)) } else { Err(unavailable(format!("{count} CUDA device(s) visible; use device: cpu or auto"))) }
        }
    }
}

/// A short human name for the device, e.g. "cpu" or "cuda:0".
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".to_string(),
    }
}

/// libtorch's intra-op threads for this process (a trial gets cores / parallel trials).
pub fn set_threads(n: usize) {
    tch::set_num_threads(n.max(1) as i32);
}
