//! `deleverage._core.Engine`: the core engine held open between calls, for a backtest's own loop
//! (step, run, own orders, forks). `simulate` runs the same engine to quiet in one call.
//!
//! The class is frozen with its state behind a mutex; every call converts, releases the GIL for
//! the core's work where it is more than a few microseconds, and converts back.

use std::sync::{Mutex, MutexGuard};

use deleverage_core::session::check_run_size;
use deleverage_core::{Engine, Fill, ForcedSeller, Session, Side};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert;
use crate::errors::{BindingError, BindingResult};
use crate::fill::PyFill;
use crate::simulate::{Signals, into_dict, records_dict};
use crate::spec::{Spec, convert_spec};

/// The engine of a scenario held open: see ``deleverage.Engine``, which wraps it.
#[pyclass(frozen, name = "Engine", module = "deleverage._core")]
pub struct PyEngine {
    inner: Mutex<Option<Session>>,
}

/// What one step did: counts and prices, no frames.
#[pyclass(frozen, get_all, name = "StepReport", module = "deleverage._core")]
pub struct PyStepReport {
    /// The step that ran.
    step: u32,
    /// Liquidations of every family in the step, and the oracle value they seized or closed.
    liquidations: u32,
    liquidated_notional: f64,
    /// Per family, in scenario order (lending first).
    family_liquidations: Vec<u32>,
    family_notional: Vec<f64>,
    /// Bad debt recognised in the step, and since the start.
    bad_debt: f64,
    cumulative_bad_debt: f64,
    rounds: u32,
    queue_length: u32,
    /// Insurance fund per family (0 for families without one), after the step.
    insurance_funds: Vec<f64>,
    /// Routed mid and oracle price per asset after the step.
    mids: Vec<f64>,
    oracle: Vec<f64>,
}

#[pymethods]
impl PyStepReport {
    fn __repr__(&self) -> String {
        format!(
            "StepReport(step={}, liquidations={}, liquidated_notional={:.6}, bad_debt={:.6}, \
             queue_length={})",
            self.step,
            self.liquidations,
            self.liquidated_notional,
            self.bad_debt,
            self.queue_length
        )
    }
}

fn report(engine: &Engine, r: &deleverage_core::StepReport) -> PyStepReport {
    let sh = engine.shared();
    let n = sh.market.n_assets();
    PyStepReport {
        step: r.step,
        liquidations: r.liquidations,
        liquidated_notional: r.liquidated_notional,
        family_liquidations: sh.family_count.clone(),
        family_notional: sh.family_notional.clone(),
        bad_debt: r.bad_debt,
        cumulative_bad_debt: engine.cumulative_bad_debt(),
        rounds: r.rounds,
        queue_length: r.queue_length,
        insurance_funds: engine
            .families()
            .iter()
            .map(ForcedSeller::insurance_fund)
            .collect(),
        mids: (0..n).map(|a| sh.market.spot(a)).collect(),
        oracle: sh.px.clone(),
    }
}

impl PyEngine {
    fn held(&self) -> BindingResult<MutexGuard<'_, Option<Session>>> {
        self.inner.lock().map_err(|_| {
            BindingError::Internal(
                "engine state is unusable: an earlier call failed while changing it".to_owned(),
            )
        })
    }
}

fn open(g: &mut Option<Session>) -> BindingResult<&mut Session> {
    g.as_mut()
        .ok_or_else(|| BindingError::Internal("this engine was finished".to_owned()))
}

#[pymethods]
impl PyEngine {
    /// Builds the engine of a scenario spec (its path generated from the spec's shock and seed).
    #[new]
    fn new(py: Python<'_>, spec: &Bound<'_, PyDict>) -> PyResult<Self> {
        let Spec {
            scenario,
            path,
            steps,
            seed,
            max_extra,
            replay,
        } = convert_spec(spec)?;
        let initial = scenario.initial_prices();
        let step_seconds = scenario.step_seconds;
        let held = py
            .detach(|| -> deleverage_core::Result<Session> {
                check_run_size(initial.len(), steps, max_extra)?;
                let rows = path.generate(&initial, steps, step_seconds, seed)?;
                Session::new(scenario, seed, rows, max_extra)?.with_refreshes(replay)
            })
            .map_err(BindingError::from)?;
        Ok(PyEngine {
            inner: Mutex::new(Some(held)),
        })
    }

    /// Runs one step; `reference` (one price per asset, NaN for "the path's") overrides the
    /// scenario's path for this step.
    #[pyo3(signature = (reference=None))]
    fn step(&self, reference: Option<&Bound<'_, PyAny>>) -> PyResult<PyStepReport> {
        let over = reference
            .map(|r| convert::column(r, "reference"))
            .transpose()?;
        let mut g = self.held()?;
        let h = open(&mut g)?;
        let r = h.step(over.as_deref()).map_err(BindingError::from)?;
        Ok(report(h.engine(), &r))
    }

    /// Runs one step per row of `references` (row-major, one price per asset, NaN for "the
    /// path's"), with the GIL released; Ctrl-C stops it between steps.
    fn run(&self, py: Python<'_>, references: &Bound<'_, PyAny>) -> PyResult<u32> {
        let refs = convert::column(references, "references")?;
        let mut g = self.held()?;
        let h = open(&mut g)?;
        let mut signals = Signals::default();
        let done = py
            .detach(|| h.run(&refs, || signals.interrupted()))
            .map_err(BindingError::from)?;
        signals.raise()?;
        Ok(done)
    }

    /// Runs what is left of the scenario's path, then holds the last reference until the market
    /// is quiet, at most `max_extra_steps` more (the spec's by default): what `simulate` does.
    #[pyo3(signature = (max_extra_steps=None))]
    fn run_to_quiet(&self, py: Python<'_>, max_extra_steps: Option<u32>) -> PyResult<bool> {
        let mut g = self.held()?;
        let h = open(&mut g)?;
        let mut signals = Signals::default();
        let quiet = py
            .detach(|| h.run_to_quiet(max_extra_steps, || signals.interrupted()))
            .map_err(BindingError::from)?;
        signals.raise()?;
        Ok(quiet)
    }

    /// The user's own order between steps (see `Engine::submit` in the core).
    #[pyo3(signature = (asset, side, qty, venue=None, limit=None))]
    fn submit(
        &self,
        asset: usize,
        side: &str,
        qty: f64,
        venue: Option<usize>,
        limit: Option<f64>,
    ) -> PyResult<PyFill> {
        let side = convert::side(side)?;
        let mut g = self.held()?;
        let h = open(&mut g)?;
        let fill: Fill = h
            .engine_mut()
            .submit(asset, side, qty, venue, limit)
            .map_err(BindingError::from)?;
        Ok(PyFill::new(fill))
    }

    /// A liquidation by the user of lending account `account` (its engine id): `amount` units
    /// of its `debt_asset` debt repaid against its `collateral_asset` collateral, under the
    /// protocol's rules. Returns what was repaid and seized.
    fn liquidate<'py>(
        &self,
        py: Python<'py>,
        account: u32,
        debt_asset: usize,
        collateral_asset: usize,
        amount: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut g = self.held()?;
        let h = open(&mut g)?;
        let m = h
            .engine_mut()
            .liquidate(account, debt_asset, collateral_asset, amount)
            .map_err(BindingError::from)?;
        let d = PyDict::new(py);
        d.set_item("repaid", m.repaid)?;
        d.set_item("repaid_value", m.repaid_value)?;
        d.set_item("seized", m.seized)?;
        d.set_item("bonus", m.bonus)?;
        d.set_item("protocol_fee", m.protocol_fee)?;
        d.set_item("bad_debt", m.bad_debt)?;
        Ok(d)
    }

    /// `Clipper.take` by the user of auction `auction` (its row) of the Maker system that is
    /// family `family`: up to `amount` of its lot at the current price if at most `max_price`.
    /// Returns (collateral bought, DAI owed).
    fn take(
        &self,
        family: usize,
        auction: usize,
        amount: f64,
        max_price: f64,
    ) -> PyResult<(f64, f64)> {
        let mut g = self.held()?;
        let h = open(&mut g)?;
        Ok(h.engine_mut()
            .take(family, auction, amount, max_price)
            .map_err(BindingError::from)?)
    }

    /// The user taking the liquidation order of position row `row` of the perp exchange that is
    /// family `family`: `qty` at `price`. Returns (quantity closed, clearance fee).
    fn liquidate_position(
        &self,
        family: usize,
        row: u32,
        qty: f64,
        price: f64,
    ) -> PyResult<(f64, f64)> {
        let mut g = self.held()?;
        let h = open(&mut g)?;
        Ok(h.engine_mut()
            .liquidate_position(family, row, qty, price)
            .map_err(BindingError::from)?)
    }

    /// What `submit` would fill now, without trading.
    #[pyo3(signature = (asset, side, qty))]
    fn quote(&self, asset: usize, side: &str, qty: f64) -> PyResult<PyFill> {
        let side: Side = convert::side(side)?;
        let qty = convert::qty("qty", qty)?;
        let mut g = self.held()?;
        let h = open(&mut g)?;
        if asset >= h.n_assets() {
            return Err(
                BindingError::Scenario(format!("asset {asset} is not in the scenario")).into(),
            );
        }
        Ok(PyFill::new(h.engine().market().quote(asset, side, qty)))
    }

    /// The most one order on `side` trades across the venues of `asset` now before its marginal
    /// price passes each of `limits` (in quote): the bids at or above each price for a sale,
    /// the asks at or below it for a buy (`Market::capacity_to`).
    fn capacity_to<'py>(
        &self,
        py: Python<'py>,
        asset: usize,
        side: &str,
        limits: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let side: Side = convert::side(side)?;
        let limits = convert::column(limits, "limits")?;
        let mut g = self.held()?;
        let h = open(&mut g)?;
        if asset >= h.n_assets() {
            return Err(
                BindingError::Scenario(format!("asset {asset} is not in the scenario")).into(),
            );
        }
        Ok(h.engine()
            .market()
            .capacities_to(asset, side, &limits)
            .into_pyarray(py))
    }

    /// The recorded tables so far and every family's state now, as `simulate` returns them
    /// (copied: the engine goes on).
    fn records<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let g = self.held()?;
        let h = g
            .as_ref()
            .ok_or_else(|| BindingError::Internal("this engine was finished".to_owned()))?;
        records_dict(py, h.engine())
    }

    /// The recorded tables, moved out; the engine is finished afterwards.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let held = self
            .held()?
            .take()
            .ok_or_else(|| BindingError::Internal("this engine was finished".to_owned()))?;
        into_dict(py, held.into_engine())
    }

    /// An independent copy: what the branch does leaves this engine as it is.
    fn fork(&self, py: Python<'_>) -> PyResult<Self> {
        let g = self.held()?;
        let h = g
            .as_ref()
            .ok_or_else(|| BindingError::Internal("this engine was finished".to_owned()))?;
        let copy = py.detach(|| h.clone());
        Ok(PyEngine {
            inner: Mutex::new(Some(copy)),
        })
    }

    /// Steps run so far.
    #[getter]
    fn steps_run(&self) -> PyResult<u32> {
        let mut g = self.held()?;
        Ok(open(&mut g)?.engine().current_step())
    }

    /// Whether the market is quiet now.
    #[getter]
    fn quiet(&self) -> PyResult<bool> {
        let mut g = self.held()?;
        Ok(open(&mut g)?.engine().is_quiet())
    }

    /// Steps of the scenario's own path, and the reference the next step takes by default.
    #[getter]
    fn path_steps(&self) -> PyResult<usize> {
        let mut g = self.held()?;
        Ok(open(&mut g)?.path_steps())
    }

    /// Every venue's quotes now (`venues`: asset, venue, kind, whether it is halted, mid, best
    /// bid and ask, depth within 2 % of the mid on each side; NaN where a side is empty or the
    /// venue is halted) and every asset's
    /// reference, routed mid and oracle price.
    fn market<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        use deleverage_core::{AnyVenue, Venue};
        let mut g = self.held()?;
        let h = open(&mut g)?;
        let m = h.engine().market();
        let (mut asset, mut venue, mut kind) = (Vec::new(), Vec::new(), Vec::new());
        let mut halted = Vec::new();
        let (mut mid, mut bid, mut ask, mut bd, mut ad) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for a in 0..m.n_assets() {
            for (k, v) in m.venues(a).iter().enumerate() {
                asset.push(a as u32);
                venue.push(k as u32);
                kind.push(match v.inner() {
                    AnyVenue::Book(_) => "order_book",
                    AnyVenue::Pool(_) => "constant_product_pool",
                    AnyVenue::Curve(_) => "impact_curve",
                    AnyVenue::StableSwap(_) => "stableswap_pool",
                    AnyVenue::Concentrated(_) => "concentrated_pool",
                    AnyVenue::Halted(_) => "halted",
                });
                halted.push(v.is_halted());
                mid.push(v.mid().unwrap_or(f64::NAN));
                bid.push(v.best_bid().unwrap_or(f64::NAN));
                ask.push(v.best_ask().unwrap_or(f64::NAN));
                bd.push(v.depth(Side::Sell, 0.02));
                ad.push(v.depth(Side::Buy, 0.02));
            }
        }
        let venues = PyDict::new(py);
        venues.set_item("asset", asset.into_pyarray(py))?;
        venues.set_item("venue", venue.into_pyarray(py))?;
        venues.set_item("kind", kind)?;
        venues.set_item("halted", halted)?;
        venues.set_item("mid", mid.into_pyarray(py))?;
        venues.set_item("best_bid", bid.into_pyarray(py))?;
        venues.set_item("best_ask", ask.into_pyarray(py))?;
        venues.set_item("bid_depth_2pct", bd.into_pyarray(py))?;
        venues.set_item("ask_depth_2pct", ad.into_pyarray(py))?;
        let out = PyDict::new(py);
        out.set_item("venues", venues)?;
        let n = m.n_assets();
        out.set_item(
            "reference",
            (0..n)
                .map(|a| m.reference(a))
                .collect::<Vec<_>>()
                .into_pyarray(py),
        )?;
        out.set_item(
            "mid",
            (0..n)
                .map(|a| m.spot(a))
                .collect::<Vec<_>>()
                .into_pyarray(py),
        )?;
        out.set_item(
            "oracle",
            h.engine().oracle_prices().to_vec().into_pyarray(py),
        )?;
        Ok(out)
    }

    fn next_reference<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let mut g = self.held()?;
        let h = open(&mut g)?;
        Ok(h.reference(None)
            .map_err(BindingError::from)?
            .into_pyarray(py))
    }

    /// The price of asset `asset` at which every open account exposed to it would breach its
    /// family's rule, the other prices at the oracle's: one dict of columns per family
    /// (`kind`, `account`, `row`, `price`, `below`).
    fn liquidation_prices<'py>(
        &self,
        py: Python<'py>,
        asset: usize,
    ) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        let mut g = self.held()?;
        let h = open(&mut g)?;
        let e = h.engine();
        let found = e.liquidation_prices(asset).map_err(BindingError::from)?;
        let out = pyo3::types::PyList::empty(py);
        for (f, t) in e.families().iter().zip(found) {
            let d = crate::columns::table(py, t.into_table())?;
            d.set_item("kind", f.kind())?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// The fire-sale clearing equilibria of fund group `family` (the engine's family index)
    /// before the first step (see `Engine::clearing` in the core), with the GIL released: one
    /// dict per equilibrium (`kind`, `prices`, `sold`, `equity`, `defaulted`, `systemic_loss`,
    /// `stable`, `iterations`, `converged`), by price.
    #[pyo3(signature = (family, grid=512, max_iter=10_000))]
    fn clearing<'py>(
        &self,
        py: Python<'py>,
        family: usize,
        grid: usize,
        max_iter: u32,
    ) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        let mut g = self.held()?;
        let h = open(&mut g)?;
        let e = h.engine();
        let found = py
            .detach(|| e.clearing(family, grid, max_iter))
            .map_err(BindingError::from)?;
        let out = pyo3::types::PyList::empty(py);
        for q in found {
            let d = PyDict::new(py);
            d.set_item("kind", q.kind.name())?;
            d.set_item("prices", q.prices)?;
            d.set_item("sold", q.sold)?;
            d.set_item("equity", q.equity)?;
            d.set_item("defaulted", q.defaulted)?;
            d.set_item("systemic_loss", q.systemic_loss)?;
            d.set_item("stable", q.stable)?;
            d.set_item("iterations", q.iterations)?;
            d.set_item("converged", q.converged)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// The whole engine, state and all, as bytes (for pickling and shipping to a worker).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let g = self.held()?;
        let h = g
            .as_ref()
            .ok_or_else(|| BindingError::Internal("this engine was finished".to_owned()))?;
        let bytes = py.detach(|| h.to_bytes()).map_err(BindingError::from)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// An engine from [`PyEngine::to_bytes`]; it continues exactly where that one stood.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let s = py
            .detach(|| Session::from_bytes(data))
            .map_err(BindingError::from)?;
        Ok(PyEngine {
            inner: Mutex::new(Some(s)),
        })
    }
}
