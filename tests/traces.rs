//! Trace loaders on the bundled Azure traces and on malformed fixtures.

use std::path::{Path, PathBuf};

use verdant::data_error::DataErrorKind;
use verdant::trace::{read_trace, EpochDemand, TraceFormat};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn fixture(name: &str) -> PathBuf {
    repo("tests/fixtures/traces").join(name)
}

#[test]
fn bundled_azure_traces_load_with_their_exact_row_counts() {
    for (file, rows) in [
        ("AzureLLMInferenceTrace_code.csv", 8_819),
        ("AzureLLMInferenceTrace_conv.csv", 19_366),
    ] {
        let loaded = read_trace(
            &repo("datasets/azure-llm-2023").join(file),
            TraceFormat::Azure,
            false,
        )
        .unwrap();
        let trace = loaded.trace;
        assert_eq!(trace.len(), rows, "{file}");
        assert_eq!(loaded.skipped.skipped(), 0);
        // 2023-11-16 18:xx UTC; about one hour of traffic.
        let start = trace.start_unix_s.unwrap();
        assert_eq!(start / 86_400, 19_677, "{file}");
        assert!(
            (3000.0..3700.0).contains(&trace.span_s()),
            "{file}: {}",
            trace.span_s()
        );
        assert!(trace
            .requests
            .windows(2)
            .all(|w| w[0].arrival_s <= w[1].arrival_s));
    }
}

#[test]
fn the_conversation_trace_aggregates_into_epochs() {
    let trace = read_trace(
        &repo("datasets/azure-llm-2023/AzureLLMInferenceTrace_conv.csv"),
        TraceFormat::Azure,
        false,
    )
    .unwrap()
    .trace;
    let demand = EpochDemand::aggregate(&trace.requests, 1, 1, 4, 900.0).unwrap();
    assert_eq!(
        demand.total_requests() + demand.outside_horizon as f64,
        19_366.0
    );
    let tokens: f64 = (0..4).map(|e| demand.input_tokens(0, 0, e)).sum::<f64>() + {
        // requests past the fourth epoch were not counted
        trace
            .requests
            .iter()
            .filter(|r| r.arrival_s >= 3600.0)
            .map(|r| f64::from(r.input_tokens))
            .sum::<f64>()
    };
    let all: f64 = trace
        .requests
        .iter()
        .map(|r| f64::from(r.input_tokens))
        .sum();
    assert_eq!(tokens, all);
}

#[test]
fn malformed_fixtures_give_errors_naming_file_line_and_field() {
    let cases = [
        (
            "azure_bad_tokens.csv",
            DataErrorKind::InvalidValue,
            Some(3),
            Some("ContextTokens"),
            "\"31x80\" is not a non-negative whole number",
        ),
        (
            "azure_nan.csv",
            DataErrorKind::InvalidValue,
            Some(3),
            Some("ContextTokens"),
            "\"NaN\"",
        ),
        (
            "azure_negative.csv",
            DataErrorKind::InvalidValue,
            Some(2),
            Some("GeneratedTokens"),
            "\"-10\"",
        ),
        (
            "azure_missing_column.csv",
            DataErrorKind::MissingColumn,
            Some(1),
            Some("GeneratedTokens"),
            "lacks the column",
        ),
        (
            "azure_out_of_order.csv",
            DataErrorKind::OutOfOrder,
            Some(3),
            Some("TIMESTAMP"),
            "goes back in time",
        ),
        ("empty.csv", DataErrorKind::Empty, None, None, "empty"),
        (
            "azure_header_only.csv",
            DataErrorKind::Empty,
            None,
            None,
            "no data lines",
        ),
        (
            "azure_malformed.csv",
            DataErrorKind::Malformed,
            Some(2),
            None,
            "expected at least 3 fields, found 2",
        ),
    ];
    for (file, kind, line, field, text) in cases {
        let err = read_trace(&fixture(file), TraceFormat::Azure, false).unwrap_err();
        assert_eq!(err.kind, kind, "{file}: {err}");
        assert_eq!(err.line, line, "{file}: {err}");
        assert_eq!(err.field.as_deref(), field, "{file}: {err}");
        let shown = err.to_string();
        assert!(
            shown.starts_with(&fixture(file).display().to_string()),
            "{shown}"
        );
        assert!(shown.contains(text), "{file}: {shown}");
    }
    let err = read_trace(&fixture("missing.csv"), TraceFormat::Azure, false).unwrap_err();
    assert_eq!(err.kind, DataErrorKind::Io);
    assert!(err.to_string().contains("missing.csv"));
}

#[test]
fn lenient_reading_skips_bad_lines_and_says_how_many_and_why() {
    let loaded = read_trace(&fixture("azure_malformed.csv"), TraceFormat::Azure, true).unwrap();
    assert_eq!(loaded.trace.len(), 1);
    assert_eq!(loaded.skipped.skipped(), 2);
    assert_eq!(loaded.skipped.skipped_by_kind[&DataErrorKind::Malformed], 1);
    assert_eq!(
        loaded.skipped.skipped_by_kind[&DataErrorKind::InvalidValue],
        1,
        "hour 25"
    );
    assert!(loaded.skipped.to_string().starts_with("2 lines skipped"));
    let loaded = read_trace(&fixture("azure_out_of_order.csv"), TraceFormat::Azure, true).unwrap();
    assert_eq!(loaded.trace.len(), 2);
    // A file-level problem stays an error in lenient mode.
    let err = read_trace(
        &fixture("azure_missing_column.csv"),
        TraceFormat::Azure,
        true,
    )
    .unwrap_err();
    assert_eq!(err.kind, DataErrorKind::MissingColumn);
    let err = read_trace(&fixture("azure_negative.csv"), TraceFormat::Azure, true).unwrap_err();
    assert_eq!(err.kind, DataErrorKind::Empty, "no valid line at all");
}

#[test]
fn burstgpt_files_load_with_models_as_classes() {
    let loaded = read_trace(&fixture("burstgpt_small.csv"), TraceFormat::BurstGpt, false).unwrap();
    let t = loaded.trace;
    assert_eq!(t.len(), 4);
    assert_eq!(t.class_names, vec!["ChatGPT", "GPT-4"]);
    assert_eq!(t.start_unix_s, None);
    assert_eq!(t.requests[3].arrival_s, 120.5);
    assert_eq!(
        (t.requests[1].input_tokens, t.requests[1].output_tokens),
        (1087, 0)
    );
    let err = read_trace(&fixture("burstgpt_small.csv"), TraceFormat::Azure, false).unwrap_err();
    assert_eq!(err.kind, DataErrorKind::MissingColumn, "{err}");
}

#[test]
fn every_format_is_detected_and_read_with_the_row_counts_of_its_notice() {
    // (file, format, rows): the bundled files with the counts their NOTICE.md states, and the
    // small fixtures of the formats Verdant does not bundle.
    for (path, format, rows) in [
        (
            repo("datasets/azure-llm-2023/AzureLLMInferenceTrace_conv.csv"),
            TraceFormat::Azure,
            19_366,
        ),
        (
            repo("datasets/azure-llm-2024-excerpt/AzureLLMInferenceTrace_code_1week_excerpt.csv"),
            TraceFormat::Azure,
            1_024,
        ),
        (
            repo("datasets/mooncake-fast25/conversation_trace.jsonl"),
            TraceFormat::Mooncake,
            12_031,
        ),
        (fixture("burstgpt_small.csv"), TraceFormat::BurstGpt, 4),
        (fixture("vidur_small.csv"), TraceFormat::Vidur, 4),
    ] {
        let auto = read_trace(&path, TraceFormat::Auto, false).unwrap();
        let named = read_trace(&path, format, false).unwrap();
        assert_eq!(auto.trace.len(), rows, "{}", path.display());
        assert_eq!(auto.trace.requests, named.trace.requests);
    }
}

#[test]
fn the_2024_azure_form_keeps_its_microseconds() {
    let t = read_trace(
        &repo("datasets/azure-llm-2024-excerpt/AzureLLMInferenceTrace_code_1week_excerpt.csv"),
        TraceFormat::Azure,
        false,
    )
    .unwrap()
    .trace;
    // 2024-05-12 08:47:44.022580 to 08:53:34.835839 UTC (the notice).
    assert_eq!(t.start_unix_s, Some(1_715_503_664));
    assert!((t.span_s() - 350.813_259).abs() < 1e-6, "{}", t.span_s());
    assert_eq!(t.requests[0].input_tokens, 1911);
}

#[test]
fn mooncake_prefix_blocks_become_shared_prefix_tokens() {
    let t = read_trace(
        &repo("datasets/mooncake-fast25/conversation_trace.jsonl"),
        TraceFormat::Mooncake,
        false,
    )
    .unwrap()
    .trace;
    // The first request shares nothing; later ones share the system prompt's block 0 at least.
    assert_eq!(t.requests[0].shared_prefix_tokens, 0);
    assert_eq!(t.requests[1].shared_prefix_tokens, 512);
    assert!(t
        .requests
        .iter()
        .all(|r| r.shared_prefix_tokens <= r.input_tokens));
    let share = t.requests.iter().map(|r| r.prefix_share()).sum::<f64>() / t.len() as f64;
    assert!((0.0..1.0).contains(&share) && share > 0.05, "{share}");
    // Milliseconds, bucketed into steps of about 3 s, over 3,537 s.
    assert!((t.span_s() - 3537.0).abs() < 1.0, "{}", t.span_s());
}

#[test]
fn bad_lines_of_every_format_are_named_by_file_line_field_and_format() {
    for (file, kind, line, field) in [
        (
            "vidur_bad_tokens.csv",
            DataErrorKind::InvalidValue,
            3,
            Some("num_prefill_tokens"),
        ),
        (
            "burstgpt_no_model.csv",
            DataErrorKind::InvalidValue,
            3,
            Some("Model"),
        ),
        (
            "mooncake_out_of_order.jsonl",
            DataErrorKind::OutOfOrder,
            3,
            Some("timestamp"),
        ),
        ("mooncake_bad_type.jsonl", DataErrorKind::Malformed, 2, None),
        (
            "azure_bad_tokens.csv",
            DataErrorKind::InvalidValue,
            3,
            Some("ContextTokens"),
        ),
    ] {
        let err = read_trace(&fixture(file), TraceFormat::Auto, false).unwrap_err();
        assert_eq!(
            (err.kind, err.line, err.field.as_deref()),
            (kind, Some(line), field),
            "{file}: {err}"
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with(&fixture(file).display().to_string()),
            "{shown}"
        );
        assert!(shown.contains(" format)"), "{shown}");
    }
}

#[test]
fn the_servegen_rate_table_loads_with_the_counts_and_peaks_of_its_notice() {
    use verdant::trace::rate_table::read_rate_table;
    let t = read_rate_table(&repo("datasets/servegen-language-14d/language_14d.csv")).unwrap();
    assert_eq!(t.models, ["m-large", "m-mid", "m-small"]);
    assert_eq!((t.len(), t.window_s), (2_016, 600.0));
    assert_eq!(t.span_s(), 14.0 * 86_400.0);
    // Peaks 583, 3,445 and 3,880 requests/s; daily means vary by up to 2.6x (the notice).
    for (m, peak) in [583.0, 3_445.0, 3_880.0].into_iter().enumerate() {
        assert!(
            (t.peak_rps(m) - peak).abs() < 1.0,
            "{}: {}",
            t.models[m],
            t.peak_rps(m)
        );
    }
    let spread = (0..3)
        .map(|m| {
            let d = t.daily_mean_rps(m);
            assert_eq!(d.len(), 14);
            d.iter().copied().fold(0.0, f64::max) / d.iter().copied().fold(f64::INFINITY, f64::min)
        })
        .fold(0.0, f64::max);
    assert!((2.5..2.7).contains(&spread), "{spread}");
    // Windows without a token table have no means.
    assert!(t.windows[1].iter().any(|w| w.mean_input_tokens.is_none()));
}

#[test]
fn bad_rate_tables_are_named_by_file_line_and_field() {
    use verdant::trace::rate_table::read_rate_table;
    for (file, line, field, text) in [
        (
            "rates_gap.csv",
            4,
            "window_start_s",
            "expected 1200 s, found 1800 s",
        ),
        (
            "rates_negative.csv",
            3,
            "rate_rps",
            "\"-2\" is not a finite number >= 0",
        ),
    ] {
        let err = read_rate_table(&fixture(file)).unwrap_err();
        assert_eq!(
            (err.line, err.field.as_deref()),
            (Some(line), Some(field)),
            "{file}: {err}"
        );
        assert!(err.to_string().contains(text), "{file}: {err}");
    }
    let err = read_rate_table(&fixture("burstgpt_small.csv")).unwrap_err();
    assert_eq!(err.kind, DataErrorKind::MissingColumn);
}
