//! The venues: `Venue` (the shared interface), `OrderBook`, `ImpactCurve`; the pools are in
//! [`crate::pools`].
//!
//! Each Python venue owns its core state behind a mutex (the class is frozen, so two Python
//! threads never see "already borrowed"); every call validates, releases the GIL, locks, runs the
//! core and converts back.

use std::sync::{Mutex, MutexGuard};

use deleverage_core::{
    AnyVenue, BookDynamics, Execution, ImpactCurve, OrderBook, Profile, Shape, Venue, error,
};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;

use crate::convert;
use crate::errors::{BindingError, BindingResult};
use crate::fill::PyFill;
use crate::pools::{PyConcentrated, PyPool, PyStableSwap};

/// Prices and quantities of a ladder, as two numpy arrays.
type LevelArrays<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

pub fn lock(m: &Mutex<AnyVenue>) -> BindingResult<MutexGuard<'_, AnyVenue>> {
    m.lock().map_err(|_| {
        BindingError::Internal(
            "venue state is unusable: an earlier call failed while changing it".to_owned(),
        )
    })
}

/// A place where forced orders trade: the interface shared by :class:`OrderBook`,
/// :class:`ConstantProductPool`, :class:`StableSwapPool`, :class:`ConcentratedPool` and
/// :class:`ImpactCurve`.
///
/// Quantities are in asset units and prices in quote per unit. ``sell``/``buy`` trade and consume
/// depth; ``quote_sell``/``quote_buy`` report the same fill without changing anything.
#[pyclass(frozen, subclass, name = "Venue", module = "deleverage._core")]
pub struct PyVenue {
    pub inner: Mutex<AnyVenue>,
}

impl PyVenue {
    pub(crate) fn new(v: AnyVenue) -> Self {
        PyVenue {
            inner: Mutex::new(v),
        }
    }

    /// Runs `f` on the locked state with the GIL released.
    fn with<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut AnyVenue) -> R + Send,
    ) -> BindingResult<R> {
        py.detach(|| {
            let mut g = lock(&self.inner)?;
            Ok(f(&mut g))
        })
    }

    fn trade(&self, py: Python<'_>, side: &str, qty: f64, mutate: bool) -> PyResult<PyFill> {
        let side = convert::side(side)?;
        let qty = convert::qty("qty", qty)?;
        let fill = self.with(py, |v| {
            if mutate {
                v.execute(side, qty)
            } else {
                v.quote(side, qty)
            }
        })?;
        Ok(PyFill::new(fill))
    }
}

/// A Python venue object of the right class for a core venue (a copy's, an unpickled one's).
pub fn venue_object(py: Python<'_>, v: AnyVenue) -> PyResult<Py<PyAny>> {
    Ok(match v {
        AnyVenue::Book(b) => new_book(py, b)?.into_any(),
        AnyVenue::Pool(p) => Py::new(
            py,
            PyClassInitializer::from(PyVenue::new(p.into())).add_subclass(PyPool),
        )?
        .into_any(),
        AnyVenue::Curve(c) => new_curve(py, Ok(c))?.into_any(),
        AnyVenue::StableSwap(p) => Py::new(
            py,
            PyClassInitializer::from(PyVenue::new(p.into())).add_subclass(PyStableSwap),
        )?
        .into_any(),
        AnyVenue::Concentrated(p) => Py::new(
            py,
            PyClassInitializer::from(PyVenue::new(p.into())).add_subclass(PyConcentrated),
        )?
        .into_any(),
        // A copy of a halted venue is the venue itself, as it stood when halted.
        AnyVenue::Halted(v) => venue_object(py, *v)?,
    })
}

/// A venue from its saved state (what pickling a venue stores).
#[pyfunction]
pub fn _venue_from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Py<PyAny>> {
    let v = AnyVenue::from_bytes(data).map_err(BindingError::from)?;
    venue_object(py, v)
}

#[pymethods]
impl PyVenue {
    /// Pickling (and `copy.deepcopy`): the venue's whole state, consumed depth included.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, pyo3::types::PyBytes>,))> {
        let py = slf.py();
        let bytes = lock(&slf.get().inner)?
            .to_bytes()
            .map_err(BindingError::from)?;
        let f = py
            .import("deleverage._core")?
            .getattr("_venue_from_bytes")?;
        Ok((f, (pyo3::types::PyBytes::new(py, &bytes),)))
    }

    /// Sells ``qty`` units into the bids and consumes the depth it takes.
    ///
    /// A venue that runs dry fills partially; the rest is reported as ``unfilled``.
    fn sell(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] qty: f64,
    ) -> PyResult<PyFill> {
        self.trade(py, "sell", qty, true)
    }

    /// Buys ``qty`` units from the asks and consumes the depth it takes.
    fn buy(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] qty: f64,
    ) -> PyResult<PyFill> {
        self.trade(py, "buy", qty, true)
    }

    /// What ``sell(qty)`` would give, without changing the venue.
    fn quote_sell(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] qty: f64,
    ) -> PyResult<PyFill> {
        self.trade(py, "sell", qty, false)
    }

    /// What ``buy(qty)`` would give, without changing the venue.
    fn quote_buy(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] qty: f64,
    ) -> PyResult<PyFill> {
        self.trade(py, "buy", qty, false)
    }

    /// Mid price, or ``None`` when the venue has none (a book with an empty side).
    #[getter]
    fn mid(&self) -> PyResult<Option<f64>> {
        Ok(lock(&self.inner)?.mid())
    }

    /// Price of the first unit a seller would get, or ``None`` with no bids.
    #[getter]
    fn best_bid(&self) -> PyResult<Option<f64>> {
        Ok(lock(&self.inner)?.best_bid())
    }

    /// Price of the first unit a buyer would pay, or ``None`` with no asks.
    #[getter]
    fn best_ask(&self) -> PyResult<Option<f64>> {
        Ok(lock(&self.inner)?.best_ask())
    }

    /// Quantity that trades on ``side`` (``"bid"`` or ``"ask"``) before the marginal price moves
    /// more than the fraction ``within`` away from the mid.
    fn depth(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::side_arg)] side: String,
        #[pyo3(from_py_with = convert::num)] within: f64,
    ) -> PyResult<f64> {
        let side = convert::side(&side)?;
        let within = error::non_negative("within", within).map_err(BindingError::from)?;
        Ok(self.with(py, |v| v.depth(side, within))?)
    }

    /// Upkeep between steps: ``dt`` seconds pass and, if given, the exogenous reference price
    /// becomes ``reference``. A book re-prices its levels and refills consumed depth; a pool is
    /// arbitraged back into the fee band around the reference; a curve rescales.
    ///
    /// Returns the arbitrage trade the upkeep made (pools only), else ``None``.
    #[pyo3(signature = (dt, reference=None))]
    fn advance(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] dt: f64,
        #[pyo3(from_py_with = convert::opt_num)] reference: Option<f64>,
    ) -> PyResult<Option<PyFill>> {
        let dt = error::non_negative("dt", dt).map_err(BindingError::from)?;
        let reference = convert::opt_positive("reference", reference)?;
        Ok(self
            .with(py, |v| v.advance(dt, reference))?
            .map(PyFill::new))
    }
}

fn dynamics(resilience_half_life: Option<f64>, permanent_impact: f64) -> BookDynamics {
    BookDynamics {
        resilience_half_life,
        permanent_impact,
    }
}

/// A limit order book anchored to a reference price.
///
/// Bids and asks are ladders of (price, resting quantity). An exogenous move shifts every level
/// proportionally while consumed depth stays consumed; consumed depth refills toward the baseline
/// with ``resilience_half_life`` (seconds, ``None`` for no refill); a ``permanent_impact``
/// fraction of each fill's impact moves the anchor itself.
///
/// Build it with :meth:`from_levels` (explicit L2 levels) or a parametric profile:
/// :meth:`linear`, :meth:`sqrt`, :meth:`exponential`.
///
/// Examples
/// --------
/// >>> import deleverage as dl
/// >>> book = dl.OrderBook.from_levels(
/// ...     [101.50, 101.25, 100.90, 100.40], [3.0, 5.0, 2.5, 4.0], [102.0], [10.0])
/// >>> fill = book.sell(9.0)
/// >>> round(fill.vwap, 6), fill.last_price, fill.levels, round(book.mid, 9)
/// (101.294444, 100.9, 3, 101.45)
#[pyclass(frozen, extends = PyVenue, name = "OrderBook", module = "deleverage._core")]
pub struct PyOrderBook;

fn new_book(py: Python<'_>, book: OrderBook) -> PyResult<Py<PyOrderBook>> {
    Py::new(
        py,
        PyClassInitializer::from(PyVenue::new(book.into())).add_subclass(PyOrderBook),
    )
}

fn with_book<R>(slf: &Bound<'_, PyOrderBook>, f: impl FnOnce(&OrderBook) -> R) -> PyResult<R> {
    let g = lock(&slf.as_super().get().inner)?;
    match &*g {
        AnyVenue::Book(b) => Ok(f(b)),
        _ => Err(BindingError::Internal("OrderBook holds another kind of venue".to_owned()).into()),
    }
}

fn profile_book(
    py: Python<'_>,
    profile: Profile,
    mid: f64,
    tick: f64,
    levels: i64,
    resilience_half_life: Option<f64>,
    permanent_impact: f64,
) -> PyResult<Py<PyOrderBook>> {
    let levels = convert::count("levels", levels)?;
    let book = py
        .detach(|| {
            OrderBook::from_profile(
                profile,
                mid,
                tick,
                levels,
                dynamics(resilience_half_life, permanent_impact),
            )
        })
        .map_err(BindingError::from)?;
    new_book(py, book)
}

#[pymethods]
impl PyOrderBook {
    /// A book from explicit L2 levels, best first on each side.
    ///
    /// Bid prices must be strictly decreasing, ask prices strictly increasing, the best bid below
    /// the best ask, quantities ``>= 0``. The anchor is ``reference``, or the mid when it is
    /// ``None`` (then both sides must have levels).
    ///
    /// Examples
    /// --------
    /// >>> import numpy as np, deleverage as dl
    /// >>> book = dl.OrderBook.from_levels(np.array([99.0, 98.0]), np.array([1.0, 2.0]),
    /// ...                                 np.array([101.0]), np.array([1.0]))
    /// >>> book.best_bid, book.best_ask, book.mid
    /// (99.0, 101.0, 100.0)
    #[staticmethod]
    #[pyo3(signature = (bid_px, bid_qty, ask_px, ask_qty, *, reference=None, resilience_half_life=None, permanent_impact=0.0))]
    #[allow(clippy::too_many_arguments, reason = "mirrors the Python signature")]
    fn from_levels(
        py: Python<'_>,
        bid_px: &Bound<'_, PyAny>,
        bid_qty: &Bound<'_, PyAny>,
        ask_px: &Bound<'_, PyAny>,
        ask_qty: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = convert::opt_num)] reference: Option<f64>,
        #[pyo3(from_py_with = convert::opt_num)] resilience_half_life: Option<f64>,
        #[pyo3(from_py_with = convert::num)] permanent_impact: f64,
    ) -> PyResult<Py<PyOrderBook>> {
        let bp = convert::column(bid_px, "bid_px")?;
        let bq = convert::column(bid_qty, "bid_qty")?;
        let ap = convert::column(ask_px, "ask_px")?;
        let aq = convert::column(ask_qty, "ask_qty")?;
        let book = py
            .detach(|| {
                OrderBook::from_levels(
                    &bp,
                    &bq,
                    &ap,
                    &aq,
                    reference,
                    dynamics(resilience_half_life, permanent_impact),
                )
            })
            .map_err(BindingError::from)?;
        new_book(py, book)
    }

    /// A book with constant depth ``depth_per_level`` on each of ``levels`` levels per side, one
    /// ``tick`` apart around ``mid``: linear price impact.
    ///
    /// Examples
    /// --------
    /// >>> import deleverage as dl
    /// >>> book = dl.OrderBook.linear(mid=100.0, tick=1.0, levels=50, depth_per_level=10.0)
    /// >>> book.sell(25.0).last_price
    /// 97.0
    #[staticmethod]
    #[pyo3(signature = (mid, tick, levels, depth_per_level, *, resilience_half_life=None, permanent_impact=0.0))]
    fn linear(
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] mid: f64,
        #[pyo3(from_py_with = convert::num)] tick: f64,
        #[pyo3(from_py_with = convert::whole)] levels: i64,
        #[pyo3(from_py_with = convert::num)] depth_per_level: f64,
        #[pyo3(from_py_with = convert::opt_num)] resilience_half_life: Option<f64>,
        #[pyo3(from_py_with = convert::num)] permanent_impact: f64,
    ) -> PyResult<Py<PyOrderBook>> {
        profile_book(
            py,
            Profile::Linear { depth_per_level },
            mid,
            tick,
            levels,
            resilience_half_life,
            permanent_impact,
        )
    }

    /// A V-shaped book whose walk reproduces the square-root impact law: selling ``Q`` moves the
    /// last fill by ``y·sigma·sqrt(Q/volume)`` (at level edges). ``volume`` is in asset units over
    /// the horizon of ``sigma`` (for example daily volume and daily volatility).
    ///
    /// Examples
    /// --------
    /// >>> import deleverage as dl
    /// >>> book = dl.OrderBook.sqrt(mid=100.0, tick=0.001, levels=20_000, sigma=0.02, volume=1e6)
    /// >>> round(1 - book.quote_sell(10_000.0).last_price / 100.0, 4)  # 0.02·sqrt(0.01)
    /// 0.002
    #[staticmethod]
    #[pyo3(signature = (mid, tick, levels, sigma, volume, y=1.0, *, resilience_half_life=None, permanent_impact=0.0))]
    #[allow(clippy::too_many_arguments, reason = "mirrors the Python signature")]
    fn sqrt(
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] mid: f64,
        #[pyo3(from_py_with = convert::num)] tick: f64,
        #[pyo3(from_py_with = convert::whole)] levels: i64,
        #[pyo3(from_py_with = convert::num)] sigma: f64,
        #[pyo3(from_py_with = convert::num)] volume: f64,
        #[pyo3(from_py_with = convert::num)] y: f64,
        #[pyo3(from_py_with = convert::opt_num)] resilience_half_life: Option<f64>,
        #[pyo3(from_py_with = convert::num)] permanent_impact: f64,
    ) -> PyResult<Py<PyOrderBook>> {
        profile_book(
            py,
            Profile::Sqrt { sigma, volume, y },
            mid,
            tick,
            levels,
            resilience_half_life,
            permanent_impact,
        )
    }

    /// A book whose cumulative depth out to relative distance ``u`` is
    /// ``total_depth·(1 − exp(−u/scale))``: finite depth, thinning away from the mid.
    ///
    /// Examples
    /// --------
    /// >>> import deleverage as dl
    /// >>> book = dl.OrderBook.exponential(mid=100.0, tick=0.01, levels=5000,
    /// ...                                 total_depth=1000.0, scale=0.005)
    /// >>> round(book.depth("bid", 0.01), 3)  # 1000·(1 − e^−2)
    /// 864.665
    #[staticmethod]
    #[pyo3(signature = (mid, tick, levels, total_depth, scale, *, resilience_half_life=None, permanent_impact=0.0))]
    #[allow(clippy::too_many_arguments, reason = "mirrors the Python signature")]
    fn exponential(
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] mid: f64,
        #[pyo3(from_py_with = convert::num)] tick: f64,
        #[pyo3(from_py_with = convert::whole)] levels: i64,
        #[pyo3(from_py_with = convert::num)] total_depth: f64,
        #[pyo3(from_py_with = convert::num)] scale: f64,
        #[pyo3(from_py_with = convert::opt_num)] resilience_half_life: Option<f64>,
        #[pyo3(from_py_with = convert::num)] permanent_impact: f64,
    ) -> PyResult<Py<PyOrderBook>> {
        profile_book(
            py,
            Profile::Exponential { total_depth, scale },
            mid,
            tick,
            levels,
            resilience_half_life,
            permanent_impact,
        )
    }

    /// Prices and resting quantities of the levels of ``side`` (``"bid"`` or ``"ask"``) that
    /// still rest something, best first, as two numpy arrays.
    fn levels<'py>(
        slf: &Bound<'py, Self>,
        #[pyo3(from_py_with = convert::side_arg)] side: String,
    ) -> PyResult<LevelArrays<'py>> {
        let side = side.as_str();
        let side = convert::side(side)?;
        let (px, qty) = with_book(slf, |b| b.levels(side))?;
        let py = slf.py();
        Ok((px.into_pyarray(py), qty.into_pyarray(py)))
    }

    /// Volume consumed from the inside of ``side`` and not yet refilled.
    fn consumed(
        slf: &Bound<'_, Self>,
        #[pyo3(from_py_with = convert::side_arg)] side: String,
    ) -> PyResult<f64> {
        let side = side.as_str();
        let side = convert::side(side)?;
        with_book(slf, |b| b.consumed(side))
    }

    /// The last exogenous reference price.
    #[getter]
    fn reference(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_book(slf, |b| b.reference())
    }

    /// The price the levels are ratios of: ``reference × permanent_factor``.
    #[getter]
    fn anchor(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_book(slf, |b| b.anchor())
    }

    /// Product of the permanent-impact factors of the fills so far (1.0 without any).
    #[getter]
    fn permanent_factor(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_book(slf, |b| b.permanent_factor())
    }

    /// Seconds for consumed depth to refill halfway, or ``None``.
    #[getter]
    fn resilience_half_life(slf: &Bound<'_, Self>) -> PyResult<Option<f64>> {
        with_book(slf, |b| b.dynamics().resilience_half_life)
    }

    /// Fraction of each fill's impact that moves the anchor.
    #[getter]
    fn permanent_impact(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_book(slf, |b| b.dynamics().permanent_impact)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        with_book(slf, |b| {
            let opt = |v: Option<f64>| v.map_or_else(|| "None".to_owned(), |x| format!("{x}"));
            format!(
                "OrderBook(best_bid={}, best_ask={}, bid_levels={}, ask_levels={}, anchor={})",
                opt(b.best_bid()),
                opt(b.best_ask()),
                b.levels(deleverage_core::Side::Sell).0.len(),
                b.levels(deleverage_core::Side::Buy).0.len(),
                b.anchor()
            )
        })
    }
}

/// A continuous price-impact curve of the academic fire-sale models.
///
/// A trade's argument is its value at the pre-trade price, ``q = qty·price``. Sales lower the price
/// (purchases reverse the move); an exogenous move scales the price (and the floor) alike. The
/// average price is the exact integral of the curve, or with ``alpha`` the weighted rule
/// ``(1 − alpha)·S + alpha·S'`` of Cont–Schaanning (0: pre-trade, 0.5: mid-point, 1: post-trade).
///
/// Examples
/// --------
/// >>> import deleverage as dl
/// >>> curve = dl.ImpactCurve.linear(price=100.0, slope=1e-4)
/// >>> fill = curve.sell(10.0)           # q = 1,000: price −10 %
/// >>> fill.vwap, curve.price
/// (95.0, 90.0)
#[pyclass(frozen, extends = PyVenue, name = "ImpactCurve", module = "deleverage._core")]
pub struct PyCurve;

fn execution(alpha: Option<f64>) -> Execution {
    match alpha {
        Some(alpha) => Execution::Weighted { alpha },
        None => Execution::Integral,
    }
}

fn new_curve(py: Python<'_>, curve: deleverage_core::Result<ImpactCurve>) -> PyResult<Py<PyCurve>> {
    let curve = curve.map_err(BindingError::from)?;
    Py::new(
        py,
        PyClassInitializer::from(PyVenue::new(curve.into())).add_subclass(PyCurve),
    )
}

fn with_curve<R>(slf: &Bound<'_, PyCurve>, f: impl FnOnce(&ImpactCurve) -> R) -> PyResult<R> {
    let g = lock(&slf.as_super().get().inner)?;
    match &*g {
        AnyVenue::Curve(c) => Ok(f(c)),
        _ => {
            Err(BindingError::Internal("ImpactCurve holds another kind of venue".to_owned()).into())
        }
    }
}

#[pymethods]
impl PyCurve {
    /// Linear impact (Greenwood–Landier–Thesmar): ``S' = S·max(0, 1 − slope·q)``, ``slope`` being
    /// the return per unit of quote sold. One sale can take at most ``q = 1/slope``.
    #[staticmethod]
    #[pyo3(signature = (price, slope, *, alpha=None))]
    fn linear(
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] price: f64,
        #[pyo3(from_py_with = convert::num)] slope: f64,
        #[pyo3(from_py_with = convert::opt_num)] alpha: Option<f64>,
    ) -> PyResult<Py<PyCurve>> {
        new_curve(py, ImpactCurve::linear(price, slope, execution(alpha)))
    }

    /// Exponential impact with a floor (Cont–Schaanning): ``S' = B + (S − B)·exp(−q/δ)`` with
    /// ``δ = (1 − B/S)·depth``, so a small sale moves the price by about ``q/depth``. ``depth`` is
    /// their ``D = c·ADV/σ·sqrt(τ)``.
    ///
    /// Examples
    /// --------
    /// >>> import deleverage as dl
    /// >>> curve = dl.ImpactCurve.exponential(price=1.0, floor=0.4, depth=12_649.1106, alpha=0.5)
    /// >>> fill = curve.sell(25.4805)
    /// >>> round(1 - curve.price, 11)   # Ψ of MECHANICS worked example 8
    /// 0.00201103264
    #[staticmethod]
    #[pyo3(signature = (price, floor, depth, *, alpha=None))]
    fn exponential(
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] price: f64,
        #[pyo3(from_py_with = convert::num)] floor: f64,
        #[pyo3(from_py_with = convert::num)] depth: f64,
        #[pyo3(from_py_with = convert::opt_num)] alpha: Option<f64>,
    ) -> PyResult<Py<PyCurve>> {
        new_curve(
            py,
            ImpactCurve::exponential(price, floor, depth, execution(alpha)),
        )
    }

    /// Square-root impact: ``S' = S·max(0, 1 − y·sigma·sqrt(q/volume))`` with ``volume`` in
    /// quote value over the horizon of ``sigma`` (daily volume with daily volatility, say; only
    /// ``sigma/sqrt(volume)`` enters). One sale can take at most ``q = volume/(y·sigma)²``.
    #[staticmethod]
    #[pyo3(signature = (price, sigma, volume, y=1.0, *, alpha=None))]
    fn sqrt(
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] price: f64,
        #[pyo3(from_py_with = convert::num)] sigma: f64,
        #[pyo3(from_py_with = convert::num)] volume: f64,
        #[pyo3(from_py_with = convert::num)] y: f64,
        #[pyo3(from_py_with = convert::opt_num)] alpha: Option<f64>,
    ) -> PyResult<Py<PyCurve>> {
        new_curve(
            py,
            ImpactCurve::sqrt(price, sigma, volume, y, execution(alpha)),
        )
    }

    /// Current price ``S``.
    #[getter]
    fn price(slf: &Bound<'_, Self>) -> PyResult<f64> {
        with_curve(slf, |c| c.price())
    }

    /// ``"linear"``, ``"exponential"`` or ``"sqrt"``.
    #[getter]
    fn kind(slf: &Bound<'_, Self>) -> PyResult<&'static str> {
        with_curve(slf, |c| match c.shape() {
            Shape::Linear { .. } => "linear",
            Shape::Exponential { .. } => "exponential",
            Shape::Sqrt { .. } => "sqrt",
        })
    }

    /// The constructor's parameters that rebuild this curve at its current price: ``slope``;
    /// ``floor`` and ``depth``; or ``sigma``, ``volume`` and ``y``.
    #[getter]
    fn parameters<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let d = pyo3::types::PyDict::new(slf.py());
        let (price, shape) = with_curve(slf, |c| (c.price(), c.shape()))?;
        match shape {
            Shape::Linear { slope } => d.set_item("slope", slope)?,
            Shape::Exponential { floor, delta } => {
                d.set_item("floor", floor)?;
                // δ = (1 − B/S)·depth at construction, so this depth rebuilds the same δ.
                d.set_item("depth", delta / (1.0 - floor / price))?;
            }
            Shape::Sqrt { y_sigma, volume } => {
                d.set_item("sigma", y_sigma)?;
                d.set_item("volume", volume)?;
                d.set_item("y", 1.0)?;
            }
        }
        Ok(d)
    }

    /// The execution-price weight, or ``None`` for the exact integral.
    #[getter]
    fn alpha(slf: &Bound<'_, Self>) -> PyResult<Option<f64>> {
        with_curve(slf, |c| match c.execution() {
            Execution::Integral => None,
            Execution::Weighted { alpha } => Some(alpha),
        })
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        with_curve(slf, |c| {
            format!(
                "ImpactCurve(kind={:?}, price={})",
                match c.shape() {
                    Shape::Linear { .. } => "linear",
                    Shape::Exponential { .. } => "exponential",
                    Shape::Sqrt { .. } => "sqrt",
                },
                c.price()
            )
        })
    }
}
