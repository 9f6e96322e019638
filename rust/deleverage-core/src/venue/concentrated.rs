//! Uniswap v3's concentrated-liquidity pool (MECHANICS §2.10): the swap math of `SwapMath`,
//! `SqrtPriceMath` and `UniswapV3Pool.swap` over the pool's initialised ticks, in floating point,
//! and the arbitrage upkeep that pulls it back to the reference like the constant-product pool's.
//!
//! State: √P (the contract's `sqrtPriceX96 / 2^96`, in raw units: token1 wei per token0 wei),
//! the active liquidity L, and the initialised ticks with their `liquidityNet`. Between two
//! consecutive initialised ticks the liquidity is constant and a swap follows the closed forms
//! ```text
//! token0 in:  1/√P' = 1/√P + Δx/L,   token1 out = L·(√P − √P')
//! token1 in:   √P'  =  √P  + Δy/L,   token0 out = L·(1/√P − 1/√P')
//! ```
//! with `Δ` the input less the fee (`feePips / 1e6`, taken on the input). At an initialised tick
//! the swap crosses it: `L ← L + liquidityNet` upward, `L ← L − liquidityNet` downward. Where no
//! liquidity lies beyond the last range that has some, the swap stops and fills partially.
//!
//! The pool's token0 or token1 is the asset (`base_is_token0`), the other one the quote; amounts
//! and prices at the venue interface are in whole tokens (`decimals0`, `decimals1`).
//!
//! Floating point, where the contract uses integers: √P at a tick is `exp(tick·ln(1.0001)/2)`
//! (TickMath's bit table gives the same value rounded to 160 bits: they agree to within 3e-15,
//! and TickMath's own rounding below tick −700,000 is larger), amounts are not rounded to wei
//! and the fee is not rounded up. Liquidity is exact (integers). `tests/test_concentrated.py`
//! states the distance from the contract's integer swap on its pools.

use super::Venue;
use crate::error::{self, Error, Result};
use crate::fill::{Fill, Side};

/// TickMath's bounds on a tick.
pub const MIN_TICK: i64 = -887_272;
pub const MAX_TICK: i64 = 887_272;
/// TickMath's `MIN_SQRT_RATIO` and `MAX_SQRT_RATIO` (sqrtPriceX96 at the bounds).
const MIN_SQRT_RATIO: f64 = 4_295_128_739.0;
const MAX_SQRT_RATIO: f64 = 1.461_446_703_485_210_103_287_273_052_203_988_822_378_723_970_342e48;
/// `2^96`, the scale of `sqrtPriceX96`.
const Q96: f64 = 79_228_162_514_264_337_593_543_950_336.0;
/// Uniswap v3's fee tiers in pips (hundredths of a basis point): `feePips / 1e6` of the input.
pub const FEE_TIERS_PIPS: [u32; 4] = [100, 500, 3_000, 10_000];
/// `ln(1.0001)/2` split so that `tick·HI` is exact for every tick (`HI` has 32 significant
/// bits, ticks at most 20), which keeps `exp` of the sum accurate to a few ulps at any tick.
const HALF_LN_TICK_HI: f64 = 4.999_750_017_020_688e-5;
const HALF_LN_TICK_LO: f64 = -3.552_708_979_678_321_7e-15;
/// Decimals a token may have here (10^decimals stays exact enough and finite).
const MAX_DECIMALS: i64 = 36;
/// Relative slack of the check that the current tick is the tick of √P: the float √P of a
/// tick agrees with the contract's to within 1e-14, and adjacent ticks are 5e-5 apart.
const TICK_RTOL: f64 = 1e-12;

/// A swap whose rest exceeds what a range holds by no more than this share of the amounts
/// (rounding: an order sized by `capacity_to` to a range's edge) ends on the edge instead of
/// carrying the dust across the next tick, or across an empty range to far-off liquidity.
const SNAP: f64 = 1e-12;

/// `10^k` for `k = 0..=36`, each literal correctly rounded.
const POW10: [f64; 37] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32,
    1e33, 1e34, 1e35, 1e36,
];

/// √(1.0001^tick): TickMath's `getSqrtRatioAtTick(tick) / 2^96`, in floating point.
#[inline]
pub fn sqrt_ratio_at_tick(tick: i64) -> f64 {
    let t = tick as f64;
    (t * HALF_LN_TICK_HI).exp() * (t * HALF_LN_TICK_LO).exp()
}

/// The tick of a √P (raw units): the largest `t` with `sqrt_ratio_at_tick(t) <= sqrt_price`,
/// within TickMath's bounds (`getTickAtSqrtRatio`).
pub fn tick_at_sqrt_ratio(sqrt_price: f64) -> i64 {
    let guess = (sqrt_price.ln() / (HALF_LN_TICK_HI + HALF_LN_TICK_LO)).floor();
    let mut t = (guess as i64).clamp(MIN_TICK, MAX_TICK);
    while t < MAX_TICK && sqrt_ratio_at_tick(t + 1) <= sqrt_price {
        t += 1;
    }
    while t > MIN_TICK && sqrt_ratio_at_tick(t) > sqrt_price {
        t -= 1;
    }
    t
}

/// A pool's state as the subgraph or an RPC dump gives it: the initialised ticks with their
/// `liquidityNet`, the current `sqrtPriceX96`, tick and active liquidity, the fee and the
/// tokens' decimals. The input of [`ConcentratedPool::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct TickState {
    /// The initialised ticks, strictly increasing, within `±887272`.
    pub ticks: Vec<i64>,
    /// `liquidityNet` of each tick: what crossing it upward adds to the active liquidity.
    pub liquidity_net: Vec<i128>,
    /// The current `sqrtPriceX96` (`slot0`).
    pub sqrt_price_x96: f64,
    /// The current tick (`slot0`); `None` to take the tick of `sqrt_price_x96`.
    pub tick: Option<i64>,
    /// The active liquidity (`liquidity()`).
    pub liquidity: i128,
    /// The fee as a fraction of the input: `feePips / 1e6`, one of the fee tiers.
    pub fee: f64,
    pub decimals0: i64,
    pub decimals1: i64,
    /// Whether the asset is the pool's token0 (then the quote is token1), or token1.
    pub base_is_token0: bool,
}

/// Which way √P moves: `Down` is `zeroForOne` (token0 in, token1 out), `Up` the other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Down,
    Up,
}

/// Where a walk along the ranges stops: after this much input less the fee, this much output,
/// or at this √P.
#[derive(Debug, Clone, Copy)]
enum Goal {
    In(f64),
    Out(f64),
    To(f64),
}

/// The result of a walk (raw units): input less the fee, output, where it ended, whether the
/// goal was met (else liquidity ran out) and how many ranges with liquidity it traded in.
#[derive(Debug, Clone, Copy)]
struct Walk {
    input: f64,
    output: f64,
    range: usize,
    sqrt: f64,
    reached: bool,
    ranges: u32,
}

/// Token0 in (`Down`) or token1 in (`Up`) to move √P from `s` to `e` with liquidity `l`
/// (`getAmount0Delta`, `getAmount1Delta`).
#[inline]
fn amount_in(dir: Dir, s: f64, e: f64, l: f64) -> f64 {
    match dir {
        Dir::Down => l * ((s - e) / (s * e)),
        Dir::Up => l * (e - s),
    }
}

/// Token1 out (`Down`) or token0 out (`Up`) of the same move.
#[inline]
fn amount_out(dir: Dir, s: f64, e: f64, l: f64) -> f64 {
    match dir {
        Dir::Down => l * (s - e),
        Dir::Up => l * ((e - s) / (s * e)),
    }
}

/// The last, partial step of a swap that puts `a` in (less the fee) from `s` with liquidity
/// `l`: the √P it ends at (`getNextSqrtPriceFromInput`) and its output, written without the
/// cancellation of `l·(s − s')`: token0 in gives `a·s·s'` token1, token1 in `a/(s·s')` token0.
#[inline]
fn step_in(dir: Dir, s: f64, l: f64, a: f64) -> (f64, f64) {
    match dir {
        Dir::Down => {
            let e = s / (1.0 + a * (s / l));
            (e, a * s * e)
        }
        Dir::Up => {
            let e = s + a / l;
            (e, a / (s * e))
        }
    }
}

/// The partial step that takes `o` out (less than the range holds): the √P it ends at
/// (`getNextSqrtPriceFromOutput`) and its input: `o/(s·s')` token0 for token1 out, `o·s·s'`
/// token1 for token0 out.
#[inline]
fn step_out(dir: Dir, s: f64, l: f64, o: f64) -> (f64, f64) {
    match dir {
        Dir::Down => {
            let e = s - o / l;
            (e, o / (s * e))
        }
        Dir::Up => {
            let e = s / (1.0 - o * (s / l));
            (e, o * s * e)
        }
    }
}

/// A Uniswap v3 pool over its initialised ticks. Range `j` (of `n + 1`) lies between tick
/// `j − 1` and tick `j` of the initialised ticks (TickMath's bounds at the ends); its liquidity
/// is fixed by the active liquidity and the `liquidityNet` of the ticks in between.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConcentratedPool {
    ticks: Vec<i32>,
    net: Vec<i128>,
    /// Liquidity of each range, `>= 0`.
    liquidity: Vec<i128>,
    /// √P at each range's lower edge, and at the upper edge of the last one (`n + 2` values).
    bounds: Vec<f64>,
    /// The first and the last range with liquidity.
    first_liquid: Option<usize>,
    last_liquid: Option<usize>,
    /// The range √P is in (it may sit on either edge), and √P in raw units.
    range: usize,
    sqrt_price: f64,
    fee_pips: u32,
    decimals0: u32,
    decimals1: u32,
    base_is_token0: bool,
}

impl ConcentratedPool {
    /// A pool from its tick state; every field is checked and named when wrong.
    pub fn new(state: TickState) -> Result<Self> {
        let TickState {
            ticks,
            liquidity_net,
            sqrt_price_x96,
            tick,
            liquidity,
            fee,
            decimals0,
            decimals1,
            base_is_token0,
        } = state;
        if ticks.len() != liquidity_net.len() {
            return Err(Error::LengthMismatch {
                field: "liquidity_net".to_owned(),
                got: liquidity_net.len(),
                other: "ticks".to_owned(),
                expected: ticks.len(),
            });
        }
        for (k, &t) in ticks.iter().enumerate() {
            if !(MIN_TICK..=MAX_TICK).contains(&t) {
                return Err(Error::OutOfRange {
                    field: format!("ticks[{k}]"),
                    value: t as f64,
                    expected: "a tick within TickMath's bounds -887272 and 887272",
                });
            }
            if k > 0 && t <= ticks[k - 1] {
                return Err(Error::Unsorted {
                    field: "ticks".to_owned(),
                    index: k,
                    value: t as f64,
                    previous: ticks[k - 1] as f64,
                    order: "increasing",
                });
            }
        }
        error::positive("sqrt_price_x96", sqrt_price_x96)?;
        // TickMath's bounds, inclusive, and the float √P of MIN_TICK (2e-10 below the contract's
        // integer there) too: a pool swapped all the way down or up stands on them.
        if !(MIN_SQRT_RATIO * (1.0 - 1e-9)..=MAX_SQRT_RATIO).contains(&sqrt_price_x96) {
            return Err(Error::OutOfRange {
                field: "sqrt_price_x96".to_owned(),
                value: sqrt_price_x96,
                expected: "within TickMath's MIN_SQRT_RATIO 4295128739 and MAX_SQRT_RATIO \
                           1.461446703485210e48",
            });
        }
        let sqrt_price = sqrt_price_x96 / Q96;
        let tick = match tick {
            None => tick_at_sqrt_ratio(sqrt_price).min(MAX_TICK - 1),
            Some(t) => {
                // `slot0.tick` is the tick of √P, or one below it when a downward swap stopped
                // exactly on a crossed tick: sqrtRatio(t) <= √P <= sqrtRatio(t + 1).
                let fits = (MIN_TICK..MAX_TICK).contains(&t)
                    && sqrt_ratio_at_tick(t) * (1.0 - TICK_RTOL) <= sqrt_price
                    && sqrt_price <= sqrt_ratio_at_tick(t + 1) * (1.0 + TICK_RTOL);
                if !fits {
                    return Err(Error::OutOfRange {
                        field: "tick".to_owned(),
                        value: t as f64,
                        expected: "the tick of sqrt_price_x96: sqrtRatioAtTick(tick) <= \
                                   sqrt_price_x96 <= sqrtRatioAtTick(tick + 1)",
                    });
                }
                t
            }
        };
        error::in_range("fee", fee, 0.0, 1.0, true, "in [0, 1)")?;
        let pips = (fee * 1e6).round();
        if (fee * 1e6 - pips).abs() > 1e-6 || !FEE_TIERS_PIPS.contains(&(pips as u32)) {
            return Err(Error::OutOfRange {
                field: "fee".to_owned(),
                value: fee,
                expected: "one of Uniswap v3's fee tiers 0.0001, 0.0005, 0.003 or 0.01 \
                           (feePips 100, 500, 3000, 10000, over 1e6)",
            });
        }
        for (field, d) in [("decimals0", decimals0), ("decimals1", decimals1)] {
            if !(0..=MAX_DECIMALS).contains(&d) {
                return Err(Error::OutOfRange {
                    field: field.to_owned(),
                    value: d as f64,
                    expected: "a whole number of decimals from 0 to 36",
                });
            }
        }
        if liquidity < 0 {
            return Err(Error::Negative {
                field: "liquidity".to_owned(),
                value: liquidity as f64,
            });
        }
        // The liquidity of every range, from the active one outward.
        let n = ticks.len();
        let range = ticks.partition_point(|&t| t <= tick);
        let mut liq = vec![0i128; n + 1];
        liq[range] = liquidity;
        let refuse = |k: usize| Error::OutOfRange {
            field: format!("liquidity_net[{k}]"),
            value: liquidity_net[k] as f64,
            expected: "a liquidityNet that keeps the liquidity of the ranges on both sides \
                       of its tick >= 0 (and below 2^127), given the active liquidity at the \
                       current tick",
        };
        for k in range..n {
            liq[k + 1] = liq[k]
                .checked_add(liquidity_net[k])
                .filter(|&l| l >= 0)
                .ok_or_else(|| refuse(k))?;
        }
        for k in (0..range).rev() {
            liq[k] = liq[k + 1]
                .checked_sub(liquidity_net[k])
                .filter(|&l| l >= 0)
                .ok_or_else(|| refuse(k))?;
        }
        // Every position adds its liquidity at its lower tick and takes it off at its upper one:
        // in a whole tick list, nothing is left below the first tick or above the last (a list
        // cut short, as a subgraph's page of 1,000 ticks can be, would spread liquidity out to
        // TickMath's bounds).
        for (k, edge) in [(0, liq[0]), (n, liq[n])] {
            if edge != 0 {
                return Err(Error::OutOfRange {
                    field: if k == 0 { "ticks[0]" } else { "ticks[-1]" }.to_owned(),
                    value: edge as f64,
                    expected: "a whole tick list: no liquidity below the first initialised \
                               tick or above the last (Σ liquidityNet = 0)",
                });
            }
        }
        let mut bounds = Vec::with_capacity(n + 2);
        bounds.push(sqrt_ratio_at_tick(MIN_TICK));
        bounds.extend(ticks.iter().map(|&t| sqrt_ratio_at_tick(t)));
        bounds.push(sqrt_ratio_at_tick(MAX_TICK));
        // √P on the edge of its range, as the float of a tick's sqrtPriceX96 may be a hair out.
        let sqrt_price = sqrt_price.max(bounds[range]).min(bounds[range + 1]);
        Ok(ConcentratedPool {
            ticks: ticks.iter().map(|&t| t as i32).collect(),
            net: liquidity_net,
            first_liquid: liq.iter().position(|&l| l > 0),
            last_liquid: liq.iter().rposition(|&l| l > 0),
            liquidity: liq,
            bounds,
            range,
            sqrt_price,
            fee_pips: pips as u32,
            decimals0: decimals0 as u32,
            decimals1: decimals1 as u32,
            base_is_token0,
        })
    }

    /// The initialised ticks.
    pub fn ticks(&self) -> &[i32] {
        &self.ticks
    }

    /// `liquidityNet` of each initialised tick.
    pub fn liquidity_net(&self) -> &[i128] {
        &self.net
    }

    /// The active liquidity: that of the range √P is in.
    pub fn liquidity(&self) -> i128 {
        self.liquidity[self.range]
    }

    /// The current `sqrtPriceX96`.
    pub fn sqrt_price_x96(&self) -> f64 {
        self.sqrt_price * Q96
    }

    /// The current tick, as `slot0.tick` would read: the tick of √P, kept inside the range
    /// √P is in (one below an initialised tick that a downward swap stopped on after crossing).
    pub fn tick(&self) -> i64 {
        let lo = if self.range == 0 {
            MIN_TICK
        } else {
            i64::from(self.ticks[self.range - 1])
        };
        let hi = self
            .ticks
            .get(self.range)
            .map_or(MAX_TICK, |&t| i64::from(t))
            - 1;
        // `max` last: a range of no width (a tick at a bound) never panics as `clamp` would.
        tick_at_sqrt_ratio(self.sqrt_price).min(hi).max(lo)
    }

    /// The fee as a fraction of the input, `feePips / 1e6`.
    pub fn fee(&self) -> f64 {
        f64::from(self.fee_pips) / 1e6
    }

    /// The fee in pips (hundredths of a basis point), as the contract stores it.
    pub fn fee_pips(&self) -> u32 {
        self.fee_pips
    }

    pub fn decimals0(&self) -> u32 {
        self.decimals0
    }

    pub fn decimals1(&self) -> u32 {
        self.decimals1
    }

    pub fn base_is_token0(&self) -> bool {
        self.base_is_token0
    }

    /// The pool's price: whole token1 per whole token0, `(sqrtPriceX96/2^96)²·10^(d0 − d1)`.
    pub fn price(&self) -> f64 {
        self.token0_price(self.sqrt_price)
    }

    /// The state a fresh pool would be built from to stand where this one stands.
    pub fn state(&self) -> TickState {
        TickState {
            ticks: self.ticks.iter().map(|&t| i64::from(t)).collect(),
            liquidity_net: self.net.clone(),
            sqrt_price_x96: self.sqrt_price_x96(),
            tick: Some(self.tick()),
            liquidity: self.liquidity(),
            fee: self.fee(),
            decimals0: i64::from(self.decimals0),
            decimals1: i64::from(self.decimals1),
            base_is_token0: self.base_is_token0,
        }
    }

    #[inline]
    fn g(&self) -> f64 {
        1.0 - self.fee()
    }

    /// Whole token1 per whole token0 at √P `s` (raw).
    #[inline]
    fn token0_price(&self, s: f64) -> f64 {
        let raw = s * s;
        if self.decimals0 >= self.decimals1 {
            raw * POW10[(self.decimals0 - self.decimals1) as usize]
        } else {
            raw / POW10[(self.decimals1 - self.decimals0) as usize]
        }
    }

    /// The asset's price in quote at √P `s`.
    #[inline]
    fn base_price(&self, s: f64) -> f64 {
        let p = self.token0_price(s);
        if self.base_is_token0 { p } else { 1.0 / p }
    }

    /// The √P (raw) at which the asset's price is `price`.
    fn sqrt_at_base_price(&self, price: f64) -> f64 {
        let p0 = if self.base_is_token0 {
            price
        } else {
            1.0 / price
        };
        let raw = if self.decimals0 >= self.decimals1 {
            p0 / POW10[(self.decimals0 - self.decimals1) as usize]
        } else {
            p0 * POW10[(self.decimals1 - self.decimals0) as usize]
        };
        raw.sqrt()
    }

    fn base_scale(&self) -> f64 {
        POW10[if self.base_is_token0 {
            self.decimals0
        } else {
            self.decimals1
        } as usize]
    }

    fn quote_scale(&self) -> f64 {
        POW10[if self.base_is_token0 {
            self.decimals1
        } else {
            self.decimals0
        } as usize]
    }

    /// The direction of √P for a trade of the asset on `side`: a sale puts the asset in.
    #[inline]
    fn dir(&self, side: Side) -> Dir {
        match (side, self.base_is_token0) {
            (Side::Sell, true) | (Side::Buy, false) => Dir::Down,
            (Side::Sell, false) | (Side::Buy, true) => Dir::Up,
        }
    }

    /// The edge of range `j` that a walk in `dir` goes toward.
    #[inline]
    fn edge(&self, j: usize, dir: Dir) -> f64 {
        match dir {
            Dir::Down => self.bounds[j],
            Dir::Up => self.bounds[j + 1],
        }
    }

    /// Whether some range beyond `j` in `dir` has liquidity.
    #[inline]
    fn liquid_beyond(&self, j: usize, dir: Dir) -> bool {
        match dir {
            Dir::Down => self.first_liquid.is_some_and(|k| k < j),
            Dir::Up => self.last_liquid.is_some_and(|k| k > j),
        }
    }

    /// Walks the ranges in `dir` from the current state until `goal` is met or liquidity runs
    /// out, crossing ticks on the way (the loop of `UniswapV3Pool.swap`, one `computeSwapStep`
    /// per range). A range without liquidity is crossed for free when some lies beyond.
    fn walk(&self, dir: Dir, goal: Goal) -> Walk {
        let (mut j, mut s) = (self.range, self.sqrt_price);
        let (mut input, mut output, mut ranges) = (0.0, 0.0, 0);
        loop {
            let l = self.liquidity[j] as f64;
            let b = self.edge(j, dir);
            // Where in this range the goal is met, if it is: the √P there, input and output.
            let end = match goal {
                Goal::To(t) => match dir {
                    Dir::Down => (t >= b).then(|| t.min(s)),
                    Dir::Up => (t <= b).then(|| t.max(s)),
                }
                .map(|e| (e, amount_in(dir, s, e, l), amount_out(dir, s, e, l))),
                _ if l <= 0.0 => None,
                Goal::In(a) => {
                    let (rest, need) = (a - input, amount_in(dir, s, b, l));
                    (rest <= need + SNAP * (input + need)).then(|| {
                        let (e, out) = step_in(dir, s, l, rest);
                        (e, rest, out)
                    })
                }
                Goal::Out(o) => {
                    let (rest, holds) = (o - output, amount_out(dir, s, b, l));
                    (rest <= holds + SNAP * (output + holds)).then(|| {
                        let (e, paid) = step_out(dir, s, l, rest);
                        (e, paid, rest)
                    })
                }
            };
            if end.is_none() && !(l > 0.0 || self.liquid_beyond(j, dir)) {
                // Nothing here and nothing beyond: the swap stops where it stands.
                return Walk {
                    input,
                    output,
                    range: j,
                    sqrt: s,
                    reached: false,
                    ranges,
                };
            }
            // The whole range when the goal lies beyond it.
            let (e, din, dout) =
                end.unwrap_or_else(|| (b, amount_in(dir, s, b, l), amount_out(dir, s, b, l)));
            // Not past the range's edge, not back past where it stood.
            let e = match dir {
                Dir::Down => e.min(s).max(b),
                Dir::Up => e.max(s).min(b),
            };
            if l > 0.0 && (din > 0.0 || dout > 0.0) {
                input += din;
                output += dout;
                ranges += 1;
            }
            s = e;
            if end.is_some() {
                match goal {
                    Goal::In(a) => input = a,
                    Goal::Out(o) => output = o,
                    Goal::To(_) => {}
                }
                return Walk {
                    input,
                    output,
                    range: j,
                    sqrt: s,
                    reached: true,
                    ranges,
                };
            }
            if !self.liquid_beyond(j, dir) {
                return Walk {
                    input,
                    output,
                    range: j,
                    sqrt: s,
                    reached: false,
                    ranges,
                };
            }
            // Cross the tick at the edge (liquidityNet added upward, subtracted downward: the
            // ranges' liquidities are precomputed).
            j = match dir {
                Dir::Down => j - 1,
                Dir::Up => j + 1,
            };
        }
    }

    /// The √P where the next unit in `dir` trades from range `j` at `s`: `s` itself inside a
    /// range with liquidity, else the near edge of the next range that has some.
    fn next_point(&self, dir: Dir, j: usize, s: f64) -> Option<f64> {
        if self.liquidity[j] > 0 && s != self.edge(j, dir) {
            return Some(s);
        }
        match dir {
            Dir::Down => (0..j)
                .rev()
                .find(|&k| self.liquidity[k] > 0)
                .map(|k| self.bounds[k + 1]),
            Dir::Up => (j + 1..self.liquidity.len())
                .find(|&k| self.liquidity[k] > 0)
                .map(|k| self.bounds[k]),
        }
    }

    /// The marginal price of a trade on `side` at √P `s`: the bid `(1 − f)·P`, the ask `P/(1 − f)`.
    #[inline]
    fn quote_at(&self, side: Side, s: f64) -> f64 {
        match side {
            Side::Sell => self.g() * self.base_price(s),
            Side::Buy => self.base_price(s) / self.g(),
        }
    }

    /// The walk of a trade of `qty` units of the asset on `side`.
    fn walk_trade(&self, side: Side, qty: f64) -> Walk {
        let dir = self.dir(side);
        match side {
            Side::Sell => self.walk(dir, Goal::In(qty * self.base_scale() * self.g())),
            Side::Buy => self.walk(dir, Goal::Out(qty * self.base_scale())),
        }
    }

    /// A trade's fill and the state after it, without applying it.
    fn trade(&self, side: Side, qty: f64) -> (Fill, usize, f64) {
        let mut fill = Fill::empty(side, qty);
        if !(qty > 0.0 && qty.is_finite()) {
            return (fill, self.range, self.sqrt_price);
        }
        let first = self
            .next_point(self.dir(side), self.range, self.sqrt_price)
            .map(|s| self.quote_at(side, s));
        let w = self.walk_trade(side, qty);
        let (filled, notional) = match side {
            Side::Sell => (
                w.input / self.g() / self.base_scale(),
                w.output / self.quote_scale(),
            ),
            Side::Buy => (
                w.output / self.base_scale(),
                w.input / self.g() / self.quote_scale(),
            ),
        };
        if filled.is_nan() || filled <= 0.0 {
            return (fill, self.range, self.sqrt_price);
        }
        fill.filled = if w.reached { qty } else { filled.min(qty) };
        fill.notional = notional;
        fill.levels = w.ranges.max(1);
        fill.first_price = first;
        fill.last_price = Some(self.quote_at(side, w.sqrt));
        (fill, w.range, w.sqrt)
    }

    /// The arbitrageur's trade that puts the best quote on the reference `P`, if the pool's bid
    /// is above it or its ask below it (the constant-product pool's band edge, `[g·P, P/g]`).
    pub fn arbitrage_to(&mut self, reference: f64) -> Option<Fill> {
        if !(reference.is_finite() && reference > 0.0) {
            return None;
        }
        let side = if self.best_bid().is_some_and(|b| b > reference) {
            Side::Sell
        } else if self.best_ask().is_some_and(|a| a < reference) {
            Side::Buy
        } else {
            return None;
        };
        let q = self.capacity_to(side, reference);
        (q > 0.0).then(|| self.execute(side, q))
    }
}

// The walks stay out of line: `AnyVenue`'s dispatch inlines its arms, and the hot venues'
// (books, pools) callers keep their inlining only while the dispatching functions stay small.
impl Venue for ConcentratedPool {
    #[inline(never)]
    fn quote(&self, side: Side, qty: f64) -> Fill {
        self.trade(side, qty).0
    }

    #[inline(never)]
    fn execute(&mut self, side: Side, qty: f64) -> Fill {
        let (fill, range, sqrt) = self.trade(side, qty);
        self.range = range;
        self.sqrt_price = sqrt;
        fill
    }

    #[inline(never)]
    fn best_bid(&self) -> Option<f64> {
        self.marginal(Side::Sell, 0.0)
    }

    #[inline(never)]
    fn best_ask(&self) -> Option<f64> {
        self.marginal(Side::Buy, 0.0)
    }

    fn mid(&self) -> Option<f64> {
        Some(self.base_price(self.sqrt_price))
    }

    #[inline(never)]
    fn depth(&self, side: Side, within: f64) -> f64 {
        let mid = self.base_price(self.sqrt_price);
        self.capacity_to(side, mid * (1.0 + side.sign() * within))
    }

    #[inline(never)]
    fn marginal(&self, side: Side, traded: f64) -> Option<f64> {
        if traded.is_nan() || traded < 0.0 {
            return None;
        }
        let w = self.walk_trade(side, traded);
        if !w.reached {
            return None;
        }
        let s = self.next_point(self.dir(side), w.range, w.sqrt)?;
        Some(self.quote_at(side, s))
    }

    #[inline(never)]
    fn capacity_to(&self, side: Side, price: f64) -> f64 {
        let target = match side {
            Side::Sell if price <= 0.0 => return self.max_capacity(side),
            Side::Buy if price <= 0.0 => return 0.0,
            Side::Sell if price.is_infinite() => return 0.0,
            Side::Buy if price.is_infinite() => return self.max_capacity(side),
            _ if price.is_nan() => return 0.0,
            // The bid (1 − f)·P reaches `price` at P = price/(1 − f); the ask at P = price·(1 − f).
            Side::Sell => self.sqrt_at_base_price(price / self.g()),
            Side::Buy => self.sqrt_at_base_price(price * self.g()),
        };
        let w = self.walk(self.dir(side), Goal::To(target));
        match side {
            Side::Sell => w.input / self.g() / self.base_scale(),
            Side::Buy => w.output / self.base_scale(),
        }
    }

    #[inline(never)]
    fn max_capacity(&self, side: Side) -> f64 {
        let dir = self.dir(side);
        let w = self.walk(
            dir,
            Goal::To(match dir {
                Dir::Down => 0.0,
                Dir::Up => f64::INFINITY,
            }),
        );
        match side {
            Side::Sell => w.input / self.g() / self.base_scale(),
            Side::Buy => w.output / self.base_scale(),
        }
    }

    fn level_at(&self, _side: Side, _traded: f64) -> Option<(f64, f64)> {
        None
    }

    fn is_discrete(&self) -> bool {
        false
    }

    #[inline(never)]
    fn advance(&mut self, _dt: f64, reference: Option<f64>) -> Option<Fill> {
        reference.and_then(|p| self.arbitrage_to(p))
    }
}

#[cfg(test)]
#[path = "concentrated_tests.rs"]
mod tests;
