//! Durations as operators write them: `500ms`, `60s`, `90m`, `12h`, `1d`, `2w`, `never`.

use std::time::Duration;

/// Parses `500ms`, `60s`, `90m`, `12h`, `3d`, `2w`. `never` is handled by
/// callers that allow it (keys counted in seconds round `ms` down).
pub fn parse(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{raw}` has no unit: write e.g. 60s, 90m, 12h, 1d, 2w"))?;
    let (num, unit) = raw.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{raw}` is not a duration: write e.g. 60s, 90m, 12h, 1d, 2w"))?;
    if unit == "ms" {
        return Ok(Duration::from_millis(n));
    }
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "`{raw}`: unknown unit `{unit}` (use ms, s, m, h, d or w)"
            ))
        }
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{raw}` is too long"))
}

/// Parses a duration or `never` (→ `None`).
pub fn parse_or_never(raw: &str) -> Result<Option<Duration>, String> {
    if raw.trim() == "never" {
        Ok(None)
    } else {
        parse(raw).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_or_never("never"), Ok(None));
        assert!(parse("1").is_err());
        assert!(parse("d").is_err());
        assert!(parse("1y").is_err());
        assert!(parse("-1d").is_err());
    }
}
