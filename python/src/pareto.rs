//! The Pareto functions on numpy arrays: exact hypervolume, first front, additive epsilon and
//! IGD+ of minimised objectives. Bad arguments (not two-dimensional, a reference of the wrong
//! length, NaN or infinite values) raise `ValueError` naming the element.

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The rows of `points` as one row-major vector, checked: finite values, at least one column;
/// errors name the argument `name`.
pub(crate) fn rows(points: &PyReadonlyArray2<'_, f64>, name: &str) -> PyResult<(Vec<f64>, usize)> {
    let view = points.as_array();
    let d = view.ncols();
    if d == 0 {
        return Err(PyValueError::new_err(format!(
            "{name}: need at least one objective (shape (n, d) with d >= 1)"
        )));
    }
    // A C-contiguous array is one copy; any other layout is read in row order.
    let flat: Vec<f64> = match view.as_slice() {
        Some(slice) => slice.to_vec(),
        None => view.iter().copied().collect(),
    };
    if let Some(k) = flat.iter().position(|v| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "{name}[{}, {}] is {}: every value must be finite",
            k / d,
            k % d,
            flat[k]
        )));
    }
    Ok((flat, d))
}

/// hypervolume(points, ref) -> float
///
/// The exact hypervolume dominated by `points` (shape (n, d), minimised) and bounded by the
/// reference point `ref` (shape (d,)). Points that do not strictly dominate `ref` in every
/// objective add nothing.
#[pyfunction]
#[pyo3(signature = (points, r#ref))]
fn hypervolume(
    py: Python<'_>,
    points: PyReadonlyArray2<'_, f64>,
    r#ref: PyReadonlyArray1<'_, f64>,
) -> PyResult<f64> {
    let (flat, d) = rows(&points, "points")?;
    let reference: Vec<f64> = r#ref.as_array().iter().copied().collect();
    if reference.len() != d {
        return Err(PyValueError::new_err(format!(
            "ref has {} values but the points have {d} objectives",
            reference.len()
        )));
    }
    if let Some((j, v)) = reference.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "ref[{j}] is {v}: every value must be finite"
        )));
    }
    Ok(py.allow_threads(|| verdant::pareto::hypervolume(&flat, d, &reference)))
}

/// nondominated(points) -> numpy.ndarray of int64
///
/// The indices (ascending) of the rows of `points` (shape (n, d), minimised) that no other row
/// dominates: the first front. Duplicates of a front point are all kept.
#[pyfunction]
fn nondominated<'py>(
    py: Python<'py>,
    points: PyReadonlyArray2<'_, f64>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let (flat, d) = rows(&points, "points")?;
    let keep: Vec<i64> = py.allow_threads(|| {
        verdant::pareto::nondominated(&flat, d)
            .into_iter()
            .map(|i| i as i64)
            .collect()
    });
    Ok(PyArray1::from_vec(py, keep))
}

/// `indicator(points, ref, d)` of two sets checked to be non-empty rows of the same number of
/// objectives, computed without the GIL.
fn indicator(
    py: Python<'_>,
    approximation: &PyReadonlyArray2<'_, f64>,
    reference: &PyReadonlyArray2<'_, f64>,
    indicator: fn(&[f64], &[f64], usize) -> f64,
) -> PyResult<f64> {
    let (a, d) = rows(approximation, "points")?;
    let (r, dr) = rows(reference, "ref")?;
    if d != dr {
        return Err(PyValueError::new_err(format!(
            "points have {d} objectives but ref has {dr}"
        )));
    }
    if a.is_empty() || r.is_empty() {
        return Err(PyValueError::new_err(
            "points and ref each need at least one row",
        ));
    }
    Ok(py.allow_threads(|| indicator(&a, &r, d)))
}

/// additive_epsilon(points, ref) -> float
///
/// The additive epsilon indicator of `points` (shape (n, d), minimised) to the reference set
/// `ref` (shape (m, d)): the least amount every point of `points` must be improved by in every
/// objective for the set to weakly dominate `ref`.
#[pyfunction]
#[pyo3(signature = (points, r#ref))]
fn additive_epsilon(
    py: Python<'_>,
    points: PyReadonlyArray2<'_, f64>,
    r#ref: PyReadonlyArray2<'_, f64>,
) -> PyResult<f64> {
    indicator(py, &points, &r#ref, verdant::pareto::additive_epsilon)
}

/// igd_plus(points, ref) -> float
///
/// IGD+ of `points` (shape (n, d), minimised) to the reference set `ref` (shape (m, d)): the
/// mean over `ref` of the distance to the nearest point of `points`, counting only the
/// objectives where that point is worse.
#[pyfunction]
#[pyo3(signature = (points, r#ref))]
fn igd_plus(
    py: Python<'_>,
    points: PyReadonlyArray2<'_, f64>,
    r#ref: PyReadonlyArray2<'_, f64>,
) -> PyResult<f64> {
    indicator(py, &points, &r#ref, verdant::pareto::igd_plus)
}

/// Adds the functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hypervolume, m)?)?;
    m.add_function(wrap_pyfunction!(nondominated, m)?)?;
    m.add_function(wrap_pyfunction!(additive_epsilon, m)?)?;
    m.add_function(wrap_pyfunction!(igd_plus, m)?)?;
    Ok(())
}
