//! Toolchain smoke tests: libtorch through tch trains a small MLP on the CPU.

use verdant::config::Validate;
use verdant_agents::device::{device_name, select_device};
use verdant_agents::regression::{fit_sine, FitParams};
use verdant_agents::{DevicePreference, TorchParams};

fn settings(steps: u32) -> verdant_agents::regression::FitSettings {
    FitParams {
        steps,
        hidden: vec![32, 32],
        learning_rate: 1e-2,
        batch_size: 64,
    }
    .validate("mlp")
    .unwrap()
}

#[test]
fn a_two_layer_mlp_learns_and_is_reproducible_on_cpu() {
    tch::set_num_threads(1);
    let report = fit_sine(&settings(400), 7, tch::Device::Cpu, |_| {}).unwrap();
    assert!(
        report.final_loss < report.initial_loss / 10.0,
        "loss fell only from {} to {}",
        report.initial_loss,
        report.final_loss
    );
    assert!(report.final_loss < 0.02, "final loss {}", report.final_loss);
    let again = fit_sine(&settings(400), 7, tch::Device::Cpu, |_| {}).unwrap();
    assert_eq!(
        report.final_loss, again.final_loss,
        "same seed, same numbers on CPU"
    );
    let other = fit_sine(&settings(400), 8, tch::Device::Cpu, |_| {}).unwrap();
    assert_ne!(report.final_loss, other.final_loss, "the seed is used");
}

#[test]
fn device_selection_follows_cuda_availability() {
    assert_eq!(
        select_device(DevicePreference::Auto).unwrap(),
        tch::Device::cuda_if_available()
    );
    assert_eq!(
        select_device(DevicePreference::Cpu).unwrap(),
        tch::Device::Cpu
    );
    let cuda = select_device(DevicePreference::Cuda);
    assert_eq!(cuda.is_ok(), tch::Cuda::is_available());
    if let Err(e) = cuda {
        assert!(e.to_string().contains("no CUDA device"), "{e}");
    }
    assert_eq!(device_name(tch::Device::Cpu), "cpu");
    assert_eq!(device_name(tch::Device::Cuda(1)), "cuda:1");
}

#[test]
fn bad_settings_name_their_key() {
    let err = FitParams {
        steps: 0,
        hidden: vec![8],
        learning_rate: 1e-3,
        batch_size: 8,
    }
    .validate("demo.mlp")
    .unwrap_err();
    assert_eq!(err.to_string(), "demo.mlp.steps: must be at least 1");
    let err = TorchParams {
        device: DevicePreference::Cpu,
        threads: 0,
    }
    .validate("torch")
    .unwrap_err();
    assert_eq!(err.to_string(), "torch.threads: must be at least 1");
}
