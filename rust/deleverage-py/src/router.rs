//! `deleverage.Router`: best execution across the venues of one asset, and cross-venue arbitrage.

use std::sync::Mutex;

use deleverage_core::venue::router;
use deleverage_core::{AnyVenue, Error as CoreError, Side, Venue, error};
use pyo3::prelude::*;

use crate::convert;
use crate::errors::{BindingError, BindingResult};
use crate::fill::PyFill;
use crate::venues::{PyVenue, lock};

/// One cross-venue arbitrage trade: ``qty`` bought on ``venues[buy_venue]`` for ``cost`` and
/// sold on ``venues[sell_venue]`` for ``proceeds``.
#[pyclass(frozen, get_all, name = "ArbTrade", module = "deleverage._core")]
pub struct PyArbTrade {
    /// Index of the venue the arbitrageur bought on.
    buy_venue: usize,
    /// Index of the venue the arbitrageur sold on.
    sell_venue: usize,
    /// Units bought and sold.
    qty: f64,
    /// Quote paid on the cheap venue.
    cost: f64,
    /// Quote received on the rich venue.
    proceeds: f64,
}

#[pymethods]
impl PyArbTrade {
    /// ``proceeds − cost``, never negative.
    #[getter]
    fn profit(&self) -> f64 {
        self.proceeds - self.cost
    }

    fn __repr__(&self) -> String {
        format!(
            "ArbTrade(buy_venue={}, sell_venue={}, qty={}, cost={}, proceeds={})",
            self.buy_venue, self.sell_venue, self.qty, self.cost, self.proceeds
        )
    }
}

/// Best execution of a forced order across several venues of the same asset.
///
/// A sale is split so that all venues end at one marginal bid (always the best marginal price
/// next); each venue executes its share as one order. The router holds the venues themselves, not
/// copies: trading through it moves them. :meth:`arbitrage` aligns the venues' quotes, which is how
/// impact on one venue reaches the others.
///
/// Examples
/// --------
/// >>> import deleverage as dl
/// >>> book = dl.OrderBook.from_levels([99.5, 99.0, 98.0], [1.0, 1.0, 5.0], [101.0], [1.0])
/// >>> pool = dl.ConstantProductPool(base_reserve=100.0, quote_reserve=10_000.0, fee=0.0)
/// >>> fill = dl.Router([book, pool]).sell(3.0)
/// >>> [round(p.filled, 9) for p in fill.parts]
/// [2.0, 1.0]
#[pyclass(frozen, name = "Router", module = "deleverage._core")]
pub struct PyRouter {
    venues: Vec<Py<PyVenue>>,
}

impl PyRouter {
    /// Runs `f` on all venues locked, with the GIL released. Locks are taken in address order so
    /// that two routers sharing venues cannot deadlock.
    fn with_all<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut [&mut AnyVenue]) -> R + Send,
    ) -> BindingResult<R> {
        let mutexes: Vec<&Mutex<AnyVenue>> = self.venues.iter().map(|v| &v.get().inner).collect();
        py.detach(|| {
            let mut order: Vec<usize> = (0..mutexes.len()).collect();
            order.sort_by_key(|&i| std::ptr::from_ref(mutexes[i]) as usize);
            let mut guards: Vec<Option<_>> = (0..mutexes.len()).map(|_| None).collect();
            for i in order {
                guards[i] = Some(lock(mutexes[i])?);
            }
            let mut guards: Vec<_> = guards.into_iter().flatten().collect();
            let mut refs: Vec<&mut AnyVenue> = guards.iter_mut().map(|g| &mut **g).collect();
            Ok(f(&mut refs))
        })
    }

    fn route(&self, py: Python<'_>, side: Side, qty: f64, mutate: bool) -> PyResult<PyFill> {
        let qty = convert::qty("qty", qty)?;
        let r = self.with_all(py, |vs| {
            if mutate {
                router::execute(vs, side, qty)
            } else {
                router::quote(vs, side, qty)
            }
        })?;
        Ok(PyFill::routed(r.total, r.parts))
    }
}

#[pymethods]
impl PyRouter {
    #[new]
    fn new(venues: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut out: Vec<Py<PyVenue>> = Vec::new();
        for (i, item) in venues.try_iter()?.enumerate() {
            let item = item?;
            let v = item.cast::<PyVenue>().map_err(|_| {
                BindingError::Scenario(format!(
                    "venues[{i}] must be an OrderBook, ConstantProductPool or ImpactCurve, got {}",
                    item.get_type()
                        .name()
                        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
                ))
            })?;
            if let Some(first) = out.iter().position(|o| o.as_ptr() == v.as_ptr()) {
                return Err(
                    BindingError::from(CoreError::DuplicateVenue { index: i, first }).into(),
                );
            }
            out.push(v.clone().unbind());
        }
        if out.is_empty() {
            return Err(BindingError::from(CoreError::Empty {
                field: "venues".to_owned(),
            })
            .into());
        }
        Ok(PyRouter { venues: out })
    }

    /// The venues, in routing order (ties go to the earlier venue).
    #[getter]
    fn venues(&self, py: Python<'_>) -> Vec<Py<PyVenue>> {
        self.venues.iter().map(|v| v.clone_ref(py)).collect()
    }

    /// Sells ``qty`` across the venues at equal marginal prices. ``parts`` of the returned fill
    /// holds each venue's share.
    fn sell(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] qty: f64,
    ) -> PyResult<PyFill> {
        self.route(py, Side::Sell, qty, true)
    }

    /// Buys ``qty`` across the venues at equal marginal prices.
    fn buy(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] qty: f64,
    ) -> PyResult<PyFill> {
        self.route(py, Side::Buy, qty, true)
    }

    /// What ``sell(qty)`` would give, without changing any venue.
    fn quote_sell(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] qty: f64,
    ) -> PyResult<PyFill> {
        self.route(py, Side::Sell, qty, false)
    }

    /// What ``buy(qty)`` would give, without changing any venue.
    fn quote_buy(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::num)] qty: f64,
    ) -> PyResult<PyFill> {
        self.route(py, Side::Buy, qty, false)
    }

    /// Highest bid across the venues, or ``None``.
    #[getter]
    fn best_bid(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        Ok(self.with_all(py, |vs| {
            vs.iter().filter_map(|v| v.best_bid()).reduce(f64::max)
        })?)
    }

    /// Lowest ask across the venues, or ``None``.
    #[getter]
    fn best_ask(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        Ok(self.with_all(py, |vs| {
            vs.iter().filter_map(|v| v.best_ask()).reduce(f64::min)
        })?)
    }

    /// Quantity that the venues together absorb on ``side`` before the marginal price moves more
    /// than ``within`` (a fraction) away from each venue's own mid.
    fn depth(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::side_arg)] side: String,
        #[pyo3(from_py_with = convert::num)] within: f64,
    ) -> PyResult<f64> {
        let side = convert::side(&side)?;
        let within = error::non_negative("within", within).map_err(BindingError::from)?;
        Ok(self.with_all(py, |vs| vs.iter().map(|v| v.depth(side, within)).sum())?)
    }

    /// Cross-venue arbitrage: while one venue's best bid exceeds another's best ask, arbitrageurs
    /// buy on the cheap venues and sell on the rich ones up to the one price ``p*`` where the asks
    /// offered below it match the bids absorbed above it; afterwards every venue quotes
    /// ``bid <= p* <= ask``. Returns the trades as (buy venue, sell venue) pairs; at most
    /// ``max_rounds`` clearings run (one normally suffices).
    ///
    /// Examples
    /// --------
    /// >>> import deleverage as dl
    /// >>> a = dl.ConstantProductPool(base_reserve=100.0, quote_reserve=10_000.0, fee=0.0)
    /// >>> b = dl.ConstantProductPool(base_reserve=100.0, quote_reserve=12_100.0, fee=0.0)
    /// >>> trades = dl.Router([a, b]).arbitrage()
    /// >>> len(trades), round(a.mid, 9), round(b.mid, 9)
    /// (1, 110.25, 110.25)
    #[pyo3(signature = (max_rounds=100))]
    fn arbitrage(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = convert::whole)] max_rounds: i64,
    ) -> PyResult<Vec<PyArbTrade>> {
        let max_rounds = convert::count("max_rounds", max_rounds)?;
        let trades = self.with_all(py, |vs| router::arbitrage(vs, max_rounds))?;
        Ok(trades
            .into_iter()
            .map(|t| PyArbTrade {
                buy_venue: t.buy_venue,
                sell_venue: t.sell_venue,
                qty: t.qty,
                cost: t.cost,
                proceeds: t.proceeds,
            })
            .collect())
    }

    fn __len__(&self) -> usize {
        self.venues.len()
    }

    fn __repr__(&self) -> String {
        format!("Router({} venues)", self.venues.len())
    }
}
