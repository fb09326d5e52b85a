//! Grid signal loaders on good and malformed files.

use std::path::{Path, PathBuf};

use verdant::data_error::DataErrorKind;
use verdant::grid::{load_eia2022, load_ren2022};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/grid")
        .join(name)
}

#[test]
fn ren2022_reads_one_location_with_negative_prices() {
    let a = load_ren2022(&fixture("ren_ok.csv"), "A").unwrap();
    assert_eq!(a.carbon_kg_per_kwh, vec![0.4, 0.5]);
    assert_eq!(a.price_usd_per_kwh, vec![-0.0125, 0.01]);
    assert_eq!(a.start_unix_s, 1_663_804_800);
    let err = load_ren2022(&fixture("ren_ok.csv"), "C").unwrap_err();
    assert!(
        err.to_string()
            .contains("no rows for location \"C\"; the file has A, B"),
        "{err}"
    );
}

#[test]
fn ren2022_errors_name_line_and_field() {
    let err = load_ren2022(&fixture("ren_nan.csv"), "A").unwrap_err();
    assert_eq!(
        (err.kind, err.line, err.field.as_deref()),
        (
            DataErrorKind::InvalidValue,
            Some(3),
            Some("carbon_kg_per_kwh")
        )
    );
    let err = load_ren2022(&fixture("ren_gap.csv"), "A").unwrap_err();
    assert_eq!(
        (err.line, err.field.as_deref()),
        (Some(3), Some("hour_utc"))
    );
    assert!(err.message.contains("2 hours missing"), "{err}");
    let err = load_ren2022(&fixture("ren_missing_column.csv"), "A").unwrap_err();
    assert_eq!(
        (err.kind, err.field.as_deref()),
        (DataErrorKind::MissingColumn, Some("water_l_per_kwh"))
    );
}

#[test]
fn eia2022_rejects_negative_generation_and_empty_columns() {
    let err = load_eia2022(&fixture("eia_negative.csv")).unwrap_err();
    assert_eq!(
        (err.kind, err.line, err.field.as_deref()),
        (DataErrorKind::InvalidValue, Some(3), Some("NG"))
    );
    let err = load_eia2022(&fixture("eia_empty_column.csv")).unwrap_err();
    assert_eq!((err.line, err.field.as_deref()), (Some(2), Some("avg_CI")));
    assert!(err.message.contains("every value of the column is empty"));
}
