//! Small allocation-free parsers shared by the data loaders.

/// The records of a CSV file through the csv crate (quoting, CRLF and LF, a UTF-8 byte order
/// mark), one `ByteRecord` reused, so that reading allocates nothing per line once the record has
/// grown; blank lines are skipped. Records may have any number of fields (readers check what
/// they need).
pub(crate) struct CsvRecords<R: std::io::Read> {
    reader: csv::Reader<LineLimit<R>>,
    record: csv::ByteRecord,
}

/// The longest line a reader of data files accepts: 1 MiB. A longer one (a file without line
/// ends, a binary file) is an I/O error naming the limit, not a buffer grown to the file's size.
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// The error of a line longer than [`MAX_LINE_BYTES`].
pub(crate) fn line_too_long() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("a line longer than {MAX_LINE_BYTES} bytes (1 MiB): not a data file of lines"),
    )
}

/// A reader that fails on a line longer than [`MAX_LINE_BYTES`] (`\n` or `\r` end a line).
pub(crate) struct LineLimit<R> {
    inner: R,
    since_line_end: usize,
}

impl<R> LineLimit<R> {
    pub(crate) fn new(inner: R) -> Self {
        LineLimit {
            inner,
            since_line_end: 0,
        }
    }
}

impl<R: std::io::Read> std::io::Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        // From the end: a line end is usually a few bytes back.
        match buf[..n].iter().rposition(|&b| b == b'\n' || b == b'\r') {
            Some(p) => self.since_line_end = n - p - 1,
            None => self.since_line_end += n,
        }
        if self.since_line_end > MAX_LINE_BYTES {
            return Err(line_too_long());
        }
        Ok(n)
    }
}

impl<R: std::io::Read> CsvRecords<R> {
    pub(crate) fn new(reader: R) -> Self {
        CsvRecords {
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(LineLimit::new(reader)),
            record: csv::ByteRecord::new(),
        }
    }

    /// Reads the next record that is not blank; false at the end of the file.
    pub(crate) fn next(&mut self) -> Result<bool, csv::Error> {
        while self.reader.read_byte_record(&mut self.record)? {
            if !self.record.iter().all(|f| trim(f).is_empty()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The current record.
    pub(crate) fn record(&self) -> &csv::ByteRecord {
        &self.record
    }

    /// The 1-based line the current record starts on.
    pub(crate) fn line(&self) -> u64 {
        self.record.position().map_or(0, csv::Position::line)
    }

    /// The index of each of `names` in the current record (a header; blanks around a name and
    /// case ignored), or the first name it lacks.
    pub(crate) fn columns<'n>(&self, names: &[&'n str]) -> Result<Vec<usize>, &'n str> {
        names
            .iter()
            .map(|name| {
                self.record
                    .iter()
                    .position(|h| trim(h).eq_ignore_ascii_case(name.as_bytes()))
                    .ok_or(*name)
            })
            .collect()
    }
}

pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    &s[start..end]
}

fn digits(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// A whole number of tokens; `12.0` is accepted, `12.5`, `-1`, `NaN` and empty are not.
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    let whole = match s.iter().position(|&b| b == b'.') {
        Some(dot) if s[dot + 1..].iter().all(|&b| b == b'0') => &s[..dot],
        Some(_) => return None,
        None => s,
    };
    if whole.is_empty() || whole.len() > 10 {
        return None;
    }
    let v = whole.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })?;
    u32::try_from(v).ok()
}

/// A finite floating-point number.
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    std::str::from_utf8(s)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|+00:00]` into whole unix seconds and a fraction.
pub(crate) fn parse_datetime(s: &[u8]) -> Option<(i64, f64)> {
    if s.len() < 19 || !matches!(s[10], b' ' | b'T') || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let year = i64::from(digits(&s[0..4])?);
    let month = digits(&s[5..7])?;
    let dom = digits(&s[8..10])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&dom) {
        return None;
    }
    let day = days_from_civil(year, month, dom);
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let (h, m, sec) = (
        digits(&s[11..13])?,
        digits(&s[14..16])?,
        digits(&s[17..19])?,
    );
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(b'.') = rest.first() {
        let end = rest[1..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(rest.len(), |p| p + 1);
        if end == 1 {
            return None;
        }
        let mut scale = 0.1;
        for &b in &rest[1..end] {
            frac += f64::from(b - b'0') * scale;
            scale *= 0.1;
        }
        rest = &rest[end..];
    }
    match rest {
        [] | b"Z" | b"+00:00" | b"+0000" => {}
        _ => return None,
    }
    let secs = day * 86_400 + i64::from(h * 3600 + m * 60 + sec);
    Some((secs, frac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2023, 11, 16), 19_677);
    }

    #[test]
    fn datetimes_and_numbers_parse_strictly() {
        assert_eq!(
            parse_datetime(b"1970-01-02 00:00:01.5"),
            Some((86_401, 0.5))
        );
        assert_eq!(
            parse_datetime(b"2022-01-01 00:00:00+00:00"),
            Some((1_640_995_200, 0.0))
        );
        assert_eq!(parse_datetime(b"2022-13-01 00:00:00"), None);
        assert_eq!(parse_datetime(b"2022-01-01 00:00:00+02:00"), None);
        assert_eq!(parse_u32(b"12.0"), Some(12));
        assert_eq!(parse_u32(b"12.5"), None);
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b"99999999999"), None);
        assert_eq!(parse_f64(b"inf"), None);
        assert_eq!(parse_f64(b"-2.5"), Some(-2.5));
    }
}
