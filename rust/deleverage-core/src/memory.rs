//! Sizes the user chooses (book levels, steps, runs) checked against the memory of the machine
//! before anything is allocated: an allocation that cannot be met aborts the process (a Jupyter
//! kernel dies with it), so a size that would need more memory than there is is refused with an
//! error naming the field, its value and the memory it would need.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// What the machine can give this process, in bytes: its physical memory (`MemTotal` of
/// `/proc/meminfo`), or the cgroup's limit when that is lower (a container). 1 TiB where
/// neither can be read.
pub fn limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|kb| kb.saturating_mul(1024))
        });
        let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        match (total, cgroup) {
            (Some(t), Some(c)) => t.min(c),
            (Some(t), None) => t,
            (None, Some(c)) => c,
            (None, None) => 1 << 40,
        }
    })
}

/// Refuses `value` items of `bytes_each` bytes (for `what`) when they would need more than
/// [`limit`].
pub fn check(field: &str, value: u64, bytes_each: u64, what: &'static str) -> Result<()> {
    let bytes = u128::from(value) * u128::from(bytes_each);
    let limit = limit();
    if bytes > u128::from(limit) {
        return Err(Error::TooLarge {
            field: field.to_owned(),
            value,
            bytes,
            limit,
            what,
        });
    }
    Ok(())
}

/// `bytes` in the largest binary unit that keeps it at least 1 (`23.4 GiB`).
pub fn human(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_beyond_the_machine_are_refused_with_what_they_need() {
        assert!(limit() >= 1 << 20);
        assert!(check("levels", 1_000, 32, "the book").is_ok());
        let e = check("levels", 1_000_000_000_000, 32, "the book's two sides").unwrap_err();
        let msg = e.to_string();
        // 10^12 levels × 32 B = 3.2e13 B = 29.1 TiB.
        assert!(
            msg.starts_with("levels = 1000000000000 would need 29.1 TiB"),
            "{msg}"
        );
        assert!(msg.contains("the book's two sides"), "{msg}");
        assert_eq!(e.field(), Some("levels"));
        assert_eq!(e.value(), Some(1e12));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
