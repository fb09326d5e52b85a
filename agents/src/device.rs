//! Device and thread settings for libtorch.

use serde::{Deserialize, Serialize};
use tch::Device;
use verdant::config::{key, ConfigError, Validate};

use crate::AgentError;

/// Which device to train on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DevicePreference {
    /// The first CUDA device when libtorch sees one, the CPU otherwise.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The first CUDA device; an error where there is none.
    Cuda,
}

/// `[torch]` settings as written in a config file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TorchParams {
    #[serde(default)]
    /// Which device.
    pub device: DevicePreference,
    /// libtorch's intra-op threads. 1 by default: on small shared machines libtorch's own default
    /// made training 10 to 100 times slower.
    #[serde(default = "one")]
    pub threads: u32,
}

fn one() -> u32 {
    1
}

impl Default for TorchParams {
    fn default() -> Self {
        TorchParams {
            device: DevicePreference::Auto,
            threads: 1,
        }
    }
}

/// Checked torch settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TorchSettings {
    /// Which device.
    pub device: DevicePreference,
    /// libtorch's intra-op threads.
    pub threads: u32,
}

impl Validate for TorchParams {
    type Checked = TorchSettings;
    fn validate(self, prefix: &str) -> Result<TorchSettings, ConfigError> {
        if self.threads == 0 {
            return Err(ConfigError::invalid(
                key(prefix, "threads"),
                "must be at least 1",
            ));
        }
        Ok(TorchSettings {
            device: self.device,
            threads: self.threads,
        })
    }
}

impl TorchSettings {
    /// Sets libtorch's thread count and returns the device to use.
    pub fn activate(&self) -> Result<Device, AgentError> {
        tch::set_num_threads(self.threads as i32);
        select_device(self.device)
    }
}

/// The device for a preference: `Auto` is `Device::cuda_if_available()`.
pub fn select_device(preference: DevicePreference) -> Result<Device, AgentError> {
    match preference {
        DevicePreference::Auto => Ok(Device::cuda_if_available()),
        DevicePreference::Cpu => Ok(Device::Cpu),
        DevicePreference::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        DevicePreference::Cuda => Err(AgentError::CudaUnavailable),
    }
}

/// The device the agents' test suites run on: `VERDANT_TEST_DEVICE` names it (`cpu`, the default,
/// `cuda` or `auto`), so that `scripts/gpu-check.sh` runs the same tests on a GPU. An error when
/// the variable names anything else, or CUDA where libtorch sees none.
pub fn test_device() -> Result<Device, AgentError> {
    let preference = match std::env::var("VERDANT_TEST_DEVICE").as_deref() {
        Err(_) | Ok("") | Ok("cpu") => DevicePreference::Cpu,
        Ok("cuda") => DevicePreference::Cuda,
        Ok("auto") => DevicePreference::Auto,
        Ok(other) => {
            return Err(AgentError::Invalid(format!(
                "VERDANT_TEST_DEVICE is {other:?}; expected cpu, cuda or auto"
            )))
        }
    };
    select_device(preference)
}

/// A device's name as recorded in manifests: `cpu`, `cuda:0`, ...
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".to_owned(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}
