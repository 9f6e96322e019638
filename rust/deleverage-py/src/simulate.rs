//! `deleverage._core.simulate`: converts a scenario spec (built by `deleverage.scenario`) into the
//! core's types, runs the engine with the GIL released in chunks (so Ctrl-C is seen between
//! them), and returns the recorded columns as numpy arrays moved out of Rust without copying.

use deleverage_core::accounts::Accounts;
use deleverage_core::engine::{AssetSpec, Engine, Priority, QueueConfig, RoundMode, Scenario};
use deleverage_core::lending::{AaveVersion, Lending, Reserve, Rules};
use deleverage_core::oracle::OracleKind;
use deleverage_core::path::PathSpec;
use numpy::{IntoPyArray, PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert;
use crate::errors::{BindingError, BindingResult};
use crate::venues::{PyVenue, lock};

/// Steps run per GIL-released chunk; between chunks Python gets to handle Ctrl-C.
const CHUNK_STEPS: usize = 32;

pub(crate) fn item<'py>(
    d: &Bound<'py, PyDict>,
    key: &str,
    place: &str,
) -> BindingResult<Bound<'py, PyAny>> {
    d.get_item(key)
        .map_err(|e| BindingError::Scenario(format!("{place}: {e}")))?
        .ok_or_else(|| BindingError::Scenario(format!("{place} has no '{key}'")))
}

pub(crate) fn get<'py, T>(d: &Bound<'py, PyDict>, key: &str, place: &str) -> BindingResult<T>
where
    T: for<'a> FromPyObject<'a, 'py, Error = PyErr>,
{
    item(d, key, place)?
        .extract::<T>()
        .map_err(|e| BindingError::Scenario(format!("{place}.{key}: {e}")))
}

pub(crate) fn dict<'py>(obj: &Bound<'py, PyAny>, place: &str) -> BindingResult<Bound<'py, PyDict>> {
    obj.cast::<PyDict>()
        .cloned()
        .map_err(|_| BindingError::Scenario(format!("{place} must be a dict")))
}

pub(crate) fn u32_column(obj: &Bound<'_, PyAny>, field: &str) -> BindingResult<Vec<u32>> {
    if let Ok(arr) = obj.cast::<PyArray1<u32>>() {
        return Ok(arr.readonly().as_array().iter().copied().collect());
    }
    obj.extract::<Vec<u32>>()
        .map_err(|e| BindingError::Scenario(format!("{field} must be a 1-D array of uint32: {e}")))
}

fn oracle(spec: &Bound<'_, PyDict>, place: &str) -> BindingResult<OracleKind> {
    let kind: String = get(spec, "kind", place)?;
    Ok(match kind.as_str() {
        "spot" => OracleKind::Spot,
        "reference" => OracleKind::Reference,
        "push" => OracleKind::Push {
            deviation: get(spec, "deviation", place)?,
            heartbeat: get(spec, "heartbeat", place)?,
        },
        "twap" => OracleKind::Twap {
            window: get(spec, "window", place)?,
        },
        "delayed" => OracleKind::Delayed {
            delay: get(spec, "delay", place)?,
        },
        "blend" => OracleKind::Blend {
            weight: get(spec, "weight", place)?,
        },
        other => {
            return Err(BindingError::Scenario(format!(
                "{place}.kind must be spot, push, twap, delayed, reference or blend, got {other:?}"
            )));
        }
    })
}

fn assets(list: &Bound<'_, PyAny>) -> BindingResult<Vec<AssetSpec>> {
    let list = list
        .cast::<PyList>()
        .map_err(|_| BindingError::Scenario("assets must be a list".to_owned()))?;
    let mut out = Vec::with_capacity(list.len());
    for (a, obj) in list.iter().enumerate() {
        let place = format!("assets[{a}]");
        let d = dict(&obj, &place)?;
        let name: String = get(&d, "name", &place)?;
        let venues_obj = item(&d, "venues", &place)?;
        let mut venues = Vec::new();
        for (k, v) in venues_obj
            .try_iter()
            .map_err(|e| BindingError::Scenario(format!("{place}.venues: {e}")))?
            .enumerate()
        {
            let v = v.map_err(|e| BindingError::Scenario(format!("{place}.venues: {e}")))?;
            let v = v.cast::<PyVenue>().map_err(|_| {
                BindingError::Scenario(format!(
                    "{name}: venues[{k}] must be an OrderBook, ConstantProductPool or ImpactCurve"
                ))
            })?;
            // The engine works on its own copy: the user's venue objects are not changed.
            venues.push(lock(&v.get().inner)?.clone());
        }
        let oracle = oracle(
            &dict(&item(&d, "oracle", &place)?, &place)?,
            &format!("{name}.oracle"),
        )?;
        out.push(AssetSpec {
            price: get(&d, "price", &place)?,
            name,
            venues,
            oracle,
        });
    }
    Ok(out)
}

fn protocols(list: &Bound<'_, PyAny>, n_assets: usize) -> BindingResult<Vec<Lending>> {
    let list = list
        .cast::<PyList>()
        .map_err(|_| BindingError::Scenario("protocols must be a list".to_owned()))?;
    let mut out = Vec::with_capacity(list.len());
    for (p, obj) in list.iter().enumerate() {
        let place = format!("protocols[{p}]");
        let d = dict(&obj, &place)?;
        let kind: String = get(&d, "kind", &place)?;
        let rules = match kind.as_str() {
            "aave_v3" => {
                let version: String = get(&d, "version", &place)?;
                let version = match version.as_str() {
                    "3.0" | "3.1" | "3.2" => AaveVersion::V3_0,
                    "3.3" | "3.4" | "3.5" | "3.6" | "3.7" => AaveVersion::V3_3,
                    other => {
                        return Err(BindingError::Scenario(format!(
                            "{place}.version must be one of 3.0–3.7, got {other:?}"
                        )));
                    }
                };
                Rules::AaveV3 { version }
            }
            "compound_v2" => Rules::CompoundV2 {
                close_factor: get(&d, "close_factor", &place)?,
                incentive: get(&d, "liquidation_incentive", &place)?,
                protocol_seize_share: get(&d, "protocol_seize_share", &place)?,
            },
            "compound_v3" => Rules::CompoundV3 {
                base: get(&d, "base_asset", &place)?,
                store_front_price_factor: get(&d, "store_front_price_factor", &place)?,
                target_reserves: get(&d, "target_reserves", &place)?,
                reserves: get(&d, "initial_reserves", &place)?,
            },
            other => {
                return Err(BindingError::Scenario(format!(
                    "{place}.kind must be aave_v3, compound_v2 or compound_v3, got {other:?}"
                )));
            }
        };
        let listed: Vec<bool> = get(&d, "listed", &place)?;
        let col = |k: &str| convert::column(&item(&d, k, &place)?, &format!("{place}.{k}"));
        let (th, bonus, fee, lf) = (
            col("threshold")?,
            col("bonus")?,
            col("protocol_fee")?,
            col("liquidation_factor")?,
        );
        if [listed.len(), th.len(), bonus.len(), fee.len(), lf.len()]
            .iter()
            .any(|&l| l != n_assets)
        {
            return Err(BindingError::Scenario(format!(
                "{place}: reserve columns must have one entry per asset ({n_assets})"
            )));
        }
        let reserves = (0..n_assets)
            .map(|a| {
                listed[a].then_some(Reserve {
                    threshold: th[a],
                    bonus: bonus[a],
                    protocol_fee: fee[a],
                    liquidation_factor: lf[a],
                })
            })
            .collect();
        out.push(Lending::new(rules, reserves).map_err(|e| {
            let name: String = get(&d, "name", &place).unwrap_or_else(|_| place.clone());
            BindingError::Scenario(format!("{name}: {e}"))
        })?);
    }
    Ok(out)
}

fn queue(d: &Bound<'_, PyDict>) -> BindingResult<QueueConfig> {
    let place = "queue";
    let priority: String = get(d, "priority", place)?;
    let priority = match priority.as_str() {
        "worst_health" => Priority::WorstHealth,
        "largest" => Priority::Largest,
        "fifo" => Priority::Fifo,
        "random" => Priority::Random,
        other => {
            return Err(BindingError::Scenario(format!(
                "queue.priority must be worst_health, largest, fifo or random, got {other:?}"
            )));
        }
    };
    let mode: String = get(d, "mode", place)?;
    let mode = match mode.as_str() {
        "sequential" => RoundMode::Sequential,
        "batch" => RoundMode::Batch,
        other => {
            return Err(BindingError::Scenario(format!(
                "queue.mode must be sequential or batch, got {other:?}"
            )));
        }
    };
    Ok(QueueConfig {
        priority,
        mode,
        budget_notional: get(d, "budget_notional", place)?,
        budget_count: get(d, "budget_count", place)?,
        sell_fraction: get(d, "sell_fraction", place)?,
        max_rounds_per_step: get(d, "max_rounds_per_step", place)?,
        keeper_margin: get(d, "keeper_margin", place)?,
    })
}

fn path(d: &Bound<'_, PyDict>) -> BindingResult<PathSpec> {
    let place = "shock";
    let kind: String = get(d, "kind", place)?;
    let col = |k: &str| convert::column(&item(d, k, place)?, &format!("shock.{k}"));
    Ok(match kind.as_str() {
        "instant" => PathSpec::Instant {
            returns: col("returns")?,
        },
        "levels" => PathSpec::Levels {
            prices: col("prices")?,
        },
        "diffusion" => PathSpec::Diffusion {
            mu: col("mu")?,
            sigma: col("sigma")?,
            corr: col("corr")?,
            jump_intensity: col("jump_intensity")?,
            jump_mean: col("jump_mean")?,
            jump_std: col("jump_std")?,
        },
        other => {
            return Err(BindingError::Scenario(format!(
                "shock.kind must be instant, levels or diffusion, got {other:?}"
            )));
        }
    })
}

macro_rules! to_dict {
    ($py:expr, $cols:expr, [$($f:ident),* $(,)?]) => {{
        let d = PyDict::new($py);
        $(d.set_item(stringify!($f), std::mem::take(&mut $cols.$f).into_pyarray($py))?;)*
        d
    }};
}

/// A scenario spec converted: the core scenario and the run settings.
pub(crate) struct Spec {
    pub scenario: Scenario,
    pub path: PathSpec,
    pub steps: usize,
    pub seed: u64,
    pub max_extra: u32,
}

/// Converts the spec `deleverage.simulate` builds (assets, protocols, accounts, families, queue,
/// shock, run settings).
pub(crate) fn convert_spec(spec: &Bound<'_, PyDict>) -> BindingResult<Spec> {
    let place = "scenario";
    let assets = assets(&item(spec, "assets", place)?)?;
    let n = assets.len();
    let protocols = protocols(&item(spec, "protocols", place)?, n)?;
    let acc = dict(&item(spec, "accounts", place)?, "accounts")?;
    let accounts = Accounts::new(
        u32_column(&item(&acc, "protocol", "accounts")?, "accounts.protocol")?,
        u32_column(&item(&acc, "offsets", "accounts")?, "accounts.offsets")?,
        u32_column(&item(&acc, "asset", "accounts")?, "accounts.asset")?,
        convert::column(
            &item(&acc, "collateral", "accounts")?,
            "accounts.collateral",
        )?,
        convert::column(&item(&acc, "debt", "accounts")?, "accounts.debt")?,
        protocols.len(),
        n,
    )
    .map_err(BindingError::from)?;
    let queue = queue(&dict(&item(spec, "queue", place)?, "queue")?)?;
    let path = path(&dict(&item(spec, "shock", place)?, "shock")?)?;
    let steps = convert::count("steps", get(spec, "steps", place)?)?;
    let step_seconds: f64 = get(spec, "step_seconds", place)?;
    let seed: u64 = get(spec, "seed", place)?;
    let max_extra: u32 = get(spec, "max_extra_steps", place)?;
    let families = crate::families::families(&item(spec, "families", place)?)?;
    Ok(Spec {
        scenario: Scenario {
            families,
            assets,
            protocols,
            accounts,
            queue,
            step_seconds,
        },
        path,
        steps,
        seed,
        max_extra,
    })
}

/// Runs a scenario spec to quiet and returns its columns.
#[pyfunction]
#[pyo3(signature = (spec))]
pub fn simulate<'py>(py: Python<'py>, spec: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    let Spec {
        scenario,
        path,
        steps,
        seed,
        max_extra,
    } = convert_spec(spec)?;
    let n = scenario.assets.len();
    let initial: Vec<f64> = scenario.assets.iter().map(|a| a.price).collect();
    let step_seconds = scenario.step_seconds;
    let (mut engine, rows) = py
        .detach(|| -> deleverage_core::Result<_> {
            let rows = path.generate(&initial, steps, step_seconds, seed)?;
            Ok((Engine::new(scenario, seed)?, rows))
        })
        .map_err(BindingError::from)?;
    for chunk in rows.chunks(n * CHUNK_STEPS) {
        py.detach(|| -> deleverage_core::Result<()> {
            for row in chunk.chunks(n) {
                engine.step(row)?;
            }
            Ok(())
        })
        .map_err(BindingError::from)?;
        py.check_signals()?;
    }
    let last = rows[rows.len() - n..].to_vec();
    let mut extra = 0u32;
    let mut quiet = false;
    while !quiet && extra < max_extra {
        let k = (max_extra - extra).min(CHUNK_STEPS as u32);
        quiet = py
            .detach(|| engine.settle(&last, k))
            .map_err(BindingError::from)?;
        extra += k;
        py.check_signals()?;
    }

    let out = PyDict::new(py);
    // The account table reads the events: build it before they are moved out.
    let a = engine.account_table();
    out.set_item("families", crate::families::outputs(py, &engine)?)?;
    let (mut ev, mut st) = engine.take_records();
    out.set_item(
        "events",
        to_dict!(
            py,
            ev,
            [
                step,
                round,
                kind,
                account,
                protocol,
                asset,
                debt_asset,
                qty,
                notional,
                price_before,
                price_after,
                debt_repaid,
                debt_repaid_value,
                collateral_seized,
                bonus,
                protocol_fee,
                bad_debt,
                insurance_change,
                realized_pnl
            ]
        ),
    )?;
    out.set_item(
        "steps",
        to_dict!(
            py,
            st,
            [
                step,
                asset,
                reference,
                mid,
                mid_held,
                oracle,
                best_bid,
                best_ask,
                bid_depth_2pct,
                liquidated_notional,
                liquidation_count,
                rounds,
                queue_length,
                cumulative_bad_debt,
                insurance_fund
            ]
        ),
    )?;
    let accounts = PyDict::new(py);
    let status: Vec<u8> = a.status.iter().map(|s| *s as u8).collect();
    accounts.set_item("status", status.into_pyarray(py))?;
    accounts.set_item("health", a.health.into_pyarray(py))?;
    accounts.set_item("collateral_value", a.collateral_value.into_pyarray(py))?;
    accounts.set_item("debt_value", a.debt_value.into_pyarray(py))?;
    accounts.set_item(
        "liquidated_notional",
        a.liquidated_notional.into_pyarray(py),
    )?;
    accounts.set_item("times_liquidated", a.times_liquidated.into_pyarray(py))?;
    accounts.set_item("bad_debt", a.bad_debt.into_pyarray(py))?;
    out.set_item("accounts", accounts)?;
    let meta = PyDict::new(py);
    meta.set_item("steps_run", engine.current_step())?;
    meta.set_item("quiet", engine.is_quiet())?;
    meta.set_item("first_liquidation_step", engine.first_liquidation_step())?;
    meta.set_item("last_liquidation_step", engine.last_liquidation_step())?;
    meta.set_item("bad_debt", engine.cumulative_bad_debt())?;
    meta.set_item("queue_length", engine.queue_length())?;
    let l = engine.ledger();
    meta.set_item("liquidators_paid", l.liquidators_paid)?;
    meta.set_item("liquidators_received", l.liquidators_received)?;
    meta.set_item(
        "liquidators_seized",
        l.liquidators_seized.clone().into_pyarray(py),
    )?;
    meta.set_item("sold", l.sold.clone().into_pyarray(py))?;
    meta.set_item("keepers_paid", l.keepers_paid)?;
    meta.set_item("keepers_received", l.keepers_received)?;
    let comet_reserves: Vec<Option<f64>> = engine
        .protocols()
        .iter()
        .map(|p| match p.rules {
            Rules::CompoundV3 { reserves, .. } => Some(reserves),
            _ => None,
        })
        .collect();
    meta.set_item("reserves", comet_reserves)?;
    let deficit: Vec<Vec<f64>> = engine
        .protocols()
        .iter()
        .map(|p| p.deficit.clone())
        .collect();
    let treasury: Vec<Vec<f64>> = engine
        .protocols()
        .iter()
        .map(|p| p.treasury.clone())
        .collect();
    meta.set_item("deficit", deficit)?;
    meta.set_item("treasury", treasury)?;
    out.set_item("meta", meta)?;
    Ok(out)
}
