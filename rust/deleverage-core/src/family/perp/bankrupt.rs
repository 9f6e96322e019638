//! How much of a bankrupt position's closing order executes on the book (MECHANICS §6.3): the
//! largest prefix whose deficit against the bankruptcy price the insurance fund can pay.

use crate::venue::router::bisect;

/// Steps of [`bankrupt_prefix`]'s bisection.
const PREFIX_STEPS: usize = 64;

/// The largest prefix of an order of `full` whose deficit the fund can pay, by bisection on
/// `pays` (whether the fund pays the deficit of a prefix), `pays(full)` being false.
///
/// The deficit is convex in the size with deficit(0) = 0, so deficit(x)/x never falls and the
/// prefixes the fund pays are an interval from 0. Two shortcuts leave the bisection's answer as
/// it is: if the fund cannot pay the smallest prefix the bisection would test (`full/2^64`,
/// where it ends when every test fails: an empty fund and a first fill below the bankruptcy
/// price), it cannot pay any, and the answer is 0 after one test instead of 64; and
/// [`bisect`] stops once the interval is two adjacent floats.
pub(super) fn bankrupt_prefix(full: f64, pays: impl Fn(f64) -> bool) -> f64 {
    // full/2^64 as the bisection reaches it, by 64 halvings; one product gives the same number
    // when every halving stays a normal float (each is then exact).
    let smallest = if full >= f64::MIN_POSITIVE * 2f64.powi(PREFIX_STEPS as i32) {
        full * 0.5f64.powi(PREFIX_STEPS as i32)
    } else {
        (0..PREFIX_STEPS).fold(full, |x, _| 0.5 * x)
    };
    if !pays(smallest) {
        return 0.0;
    }
    bisect::<PREFIX_STEPS>(0.0, full, pays)
}

#[cfg(test)]
mod tests {
    use super::bankrupt_prefix;

    /// The bisection as it was written before its shortcuts: 64 halvings, every one tested.
    fn plain(full: f64, pays: impl Fn(f64) -> bool) -> f64 {
        let (mut lo, mut hi) = (0.0, full);
        for _ in 0..64 {
            let mid = 0.5 * (lo + hi);
            if pays(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// A sale into a ladder of 1 unit per level at prices 100, 99, 98, ...: the deficit against
    /// a bankruptcy price `bp`, `x·bp − notional(x)`, paid by a fund of `fund`.
    fn ladder_pays(bp: f64, fund: f64) -> impl Fn(f64) -> bool {
        move |x: f64| {
            let (mut left, mut notional, mut price) = (x, 0.0, 100.0);
            while left > 0.0 {
                let q = left.min(1.0);
                notional += q * price;
                left -= q;
                price -= 1.0;
            }
            x * bp - notional <= fund
        }
    }

    #[test]
    fn an_empty_fund_and_a_first_fill_below_bankruptcy_sell_nothing() {
        // The first fill (100) is below the bankruptcy price 100.5: every prefix is a deficit.
        let tests = std::cell::Cell::new(0);
        let x = bankrupt_prefix(10.0, |x| {
            tests.set(tests.get() + 1);
            ladder_pays(100.5, 0.0)(x)
        });
        assert_eq!(x, 0.0);
        assert_eq!(tests.get(), 1, "one test of the smallest prefix decides it");
        // The smallest prefix is the bisection's last midpoint, for normal and subnormal ones.
        for full in [10.0, 3e-290, 1e-300, 5e-320] {
            let first = std::cell::Cell::new(None);
            bankrupt_prefix(full, |x| {
                first.set(first.get().or(Some(x)));
                false
            });
            let halved = (0..64).fold(full, |x, _| 0.5 * x);
            assert_eq!(
                first.get().map(f64::to_bits),
                Some(halved.to_bits()),
                "{full}"
            );
        }
        assert_eq!(plain(10.0, ladder_pays(100.5, 0.0)), 0.0);
    }

    #[test]
    fn the_prefix_is_the_bisections_and_the_closed_form_root() {
        // bp 99: the levels at 100 and 99 leave a surplus of 1, the one at 98 costs 1 per unit
        // and the one at 97 2: with an empty fund the deficit is 0 at 3, with 0.5 at 3.25.
        // bp 100, fund 0.25: the level at 99 costs 1 per unit, 0.25 of it is paid for: 1.25.
        for (bp, fund, root) in [(99.0, 0.0, 3.0), (99.0, 0.5, 3.25), (100.0, 0.25, 1.25)] {
            let got = bankrupt_prefix(10.0, ladder_pays(bp, fund));
            assert_eq!(got.to_bits(), plain(10.0, ladder_pays(bp, fund)).to_bits());
            assert!((got - root).abs() <= 1e-12 * root, "{got} against {root}");
        }
    }
}
