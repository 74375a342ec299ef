//! Durations as kauth's flags take them: a number and a unit, repeated (`90s`, `1h30m`, `30d`,
//! `10y`; a year is 365 days).

/// Parses `90s`, `52m`, `8760h`, `30d`, `1y`, `1h30m` (Go's duration units plus `d` and `y`).
pub fn parse(s: &str) -> Result<std::time::Duration, String> {
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut seen_unit = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'y' => 365 * 86_400,
            _ => return Err(format!("{s:?}: unknown unit {c:?} (use s, m, h, d or y)")),
        };
        let n: u64 = num.parse().map_err(|_| format!("{s:?}: expected a number before {c:?}"))?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(|| format!("{s:?}: too large"))?;
        num.clear();
        seen_unit = true;
    }
    if !num.is_empty() || !seen_unit {
        return Err(format!("{s:?}: expected a duration such as 30d, 8760h or 90s"));
    }
    Ok(std::time::Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_add_up_and_bad_input_names_the_problem() {
        assert_eq!(parse("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse("2m").unwrap().as_secs(), 120);
        assert!(parse("10").unwrap_err().contains("expected a duration"));
        assert!(parse("1w").unwrap_err().contains("unknown unit"));
        assert!(parse("99999999999999999999y").is_err());
    }
}
