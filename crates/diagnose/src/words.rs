//! Numbers as people write them in a diagnosis: 14,500 steps, 13.5k, 40.57M parameters,
//! 7.60B tokens, ~190 tokens per parameter, 9× compute-optimal.

/// An integer with thousands separators: 14500 → "14,500".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A step count short: 13500 → "13.5k", 2500 → "2,500", 20000 → "20k".
pub fn steps(n: u64) -> String {
    if n >= 10_000 {
        let k = n as f64 / 1000.0;
        if (k - k.round()).abs() < 0.05 { format!("{}k", k.round()) } else { format!("{k:.1}k") }
    } else {
        thousands(n)
    }
}

/// A count as people write it: 1.50B, 40.56M, 100.2k.
pub fn count(n: u64) -> String {
    let x = n as f64;
    if x >= 1e9 {
        format!("{:.2}B", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        n.to_string()
    }
}

/// Two significant figures, for "about" figures: 187.4 → "190", 19.66 → "20", 1.19 → "1.2".
pub fn about(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return format!("{x}");
    }
    let digits = x.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits - 1);
    let r = (x / scale).round() * scale;
    if digits >= 1 { format!("{}", r.round() as i64) } else { format!("{r:.prec$}", prec = (1 - digits) as usize) }
}

/// A ratio: whole numbers from 3 up ("9×"), one decimal below ("1.2×").
pub fn times(x: f64) -> String {
    if x >= 3.0 { format!("{:.0}×", x) } else { format!("{x:.1}×") }
}

/// A learning rate: 3.25e-4.
pub fn lr(x: f64) -> String {
    format!("{x:.2e}").replace(".00e", "e")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_written() {
        assert_eq!(thousands(14500), "14,500");
        assert_eq!(thousands(524288), "524,288");
        assert_eq!(thousands(999), "999");
        assert_eq!(steps(13500), "13.5k");
        assert_eq!(steps(20000), "20k");
        assert_eq!(steps(2500), "2,500");
        assert_eq!(count(40_570_000), "40.57M");
        assert_eq!(count(7_602_176_000), "7.60B");
        assert_eq!(about(187.4), "190");
        assert_eq!(about(19.66), "20");
        assert_eq!(about(1.19), "1.2");
        assert_eq!(about(0.094), "0.094");
        assert_eq!(times(9.37), "9×");
        assert_eq!(times(1.19), "1.2×");
        assert_eq!(lr(3.25e-4), "3.25e-4");
        assert_eq!(lr(1e-3), "1e-3");
    }
}
