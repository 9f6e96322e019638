//! Scenario specs (the dicts `deleverage.simulate.build_spec` builds) into the core's types: the
//! market (assets, venues, oracles), the queue and the shock here; each family's part in its own
//! file (`lending`, `perps`, `vaults`, `funds`).

mod funds;
mod lending;
mod perps;

pub use lending::check_lending;
pub use perps::maintenance_margin;
mod vaults;

use deleverage_core::{
    AssetSpec, Channel, Family, OracleKind, Outage, OutageKind, OwnerSpec, PathSpec, Peg, Priority,
    QueueConfig, Refresh, RoundMode, Scenario,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{self, dict, get, item, list};
use crate::errors::{BindingError, BindingResult};
use crate::venues::{PyVenue, lock};

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
        let peg = match optional(&d, "peg", &place)? {
            Some(p) => Some(self::peg(&dict(&p, &place)?, &format!("{name}.peg"))?),
            None => None,
        };
        out.push(AssetSpec {
            price: get(&d, "price", &place)?,
            name,
            venues,
            oracle,
            peg,
        });
    }
    Ok(out)
}

/// `d[key]` when it is there and not `None`.
fn optional<'py>(
    d: &Bound<'py, PyDict>,
    key: &str,
    place: &str,
) -> BindingResult<Option<Bound<'py, PyAny>>> {
    let v = d
        .get_item(key)
        .map_err(|e| BindingError::Scenario(format!("{place}.{key}: {e}")))?;
    Ok(v.filter(|v| !v.is_none()))
}

/// An asset's peg: `underlying` (an asset index, or `None` for the quote) and its `redeem` and
/// `mint` channels (`None`, or `capacity`, `delay`, `fee`).
fn peg(d: &Bound<'_, PyDict>, place: &str) -> BindingResult<Peg> {
    let channel = |key: &str| -> BindingResult<Option<Channel>> {
        let Some(c) = optional(d, key, place)? else {
            return Ok(None);
        };
        let place = format!("{place}.{key}");
        let c = dict(&c, &place)?;
        Ok(Some(Channel {
            capacity: get(&c, "capacity", &place)?,
            delay: get(&c, "delay", &place)?,
            fee: get(&c, "fee", &place)?,
        }))
    };
    Ok(Peg {
        underlying: get(d, "underlying", place)?,
        redeem: channel("redeem")?,
        mint: channel("mint")?,
    })
}

fn queue(d: &Bound<'_, PyDict>) -> BindingResult<QueueConfig> {
    let place = "queue";
    let priority: String = get(d, "priority", place)?;
    let priority = Priority::from_name("queue.priority", &priority)?;
    let mode: String = get(d, "mode", place)?;
    let mode = RoundMode::from_name("queue.mode", &mode)?;
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

/// A scenario spec converted: the core scenario and the run settings.
pub(crate) struct Spec {
    pub scenario: Scenario,
    pub path: PathSpec,
    pub steps: usize,
    pub seed: u64,
    pub max_extra: u32,
    /// Recorded book snapshots to replay (`replay`, optional).
    pub replay: Vec<Refresh>,
}

impl Spec {
    /// The spec, refused if it carries book snapshots: only `deleverage.Engine` (and
    /// `simulate`, which runs one) replays them.
    pub fn without_replay(self) -> BindingResult<Self> {
        if self.replay.is_empty() {
            Ok(self)
        } else {
            Err(BindingError::Scenario(
                "recorded book snapshots are replayed by deleverage.Engine (and simulate); this \
                 entry point does not replay them"
                    .to_owned(),
            ))
        }
    }
}

/// Converts the spec `deleverage.simulate` builds (assets, protocols, accounts, families, queue,
/// shock, run settings).
pub(crate) fn convert_spec(spec: &Bound<'_, PyDict>) -> BindingResult<Spec> {
    let place = "scenario";
    let assets = assets(&item(spec, "assets", place)?)?;
    let n = assets.len();
    let queue = queue(&dict(&item(spec, "queue", place)?, "queue")?)?;
    let path = path(&dict(&item(spec, "shock", place)?, "shock")?)?;
    let steps = convert::count("steps", get(spec, "steps", place)?)?;
    let step_seconds: f64 = get(spec, "step_seconds", place)?;
    let seed: u64 = get(spec, "seed", place)?;
    let max_extra: u32 = get(spec, "max_extra_steps", place)?;
    let families = self::families(&item(spec, "families", place)?, n)?;
    let replay = match spec
        .get_item("replay")
        .map_err(|e| BindingError::Scenario(format!("scenario.replay: {e}")))?
    {
        Some(list) if !list.is_none() => self::replay(&list)?,
        _ => Vec::new(),
    };
    let outages = match spec
        .get_item("outages")
        .map_err(|e| BindingError::Scenario(format!("scenario.outages: {e}")))?
    {
        Some(list) if !list.is_none() => self::outages(&list)?,
        _ => Vec::new(),
    };
    let reads_peg = match optional(spec, "reads_peg", place)? {
        Some(v) => v
            .extract()
            .map_err(|e| BindingError::Scenario(format!("scenario.reads_peg: {e}")))?,
        None => Vec::new(),
    };
    let mut owners = Vec::new();
    if let Some(list) = optional(spec, "owners", place)? {
        for (k, o) in self::list(&list, "owners")?.iter().enumerate() {
            let place = format!("owners[{k}]");
            let d = dict(&o, &place)?;
            owners.push(OwnerSpec {
                cash: get(&d, "cash", &place)?,
                margin_buffer: get(&d, "margin_buffer", &place)?,
                target_health: get(&d, "target_health", &place)?,
            });
        }
    }
    let owner_of = match optional(spec, "owner_of", place)? {
        Some(v) => convert::u32_column(&v, "owner_of")?,
        None => Vec::new(),
    };
    Ok(Spec {
        scenario: Scenario {
            families,
            assets,
            queue,
            step_seconds,
            outages,
            reads_peg,
            owners,
            owner_of,
        },
        path,
        steps,
        seed,
        max_extra,
        replay,
    })
}

/// The `outages` list of a scenario spec: one dict per outage (`kind`, `start`, `end`, and
/// `asset`, `venue` or `grace_steps` as the kind needs).
fn outages(obj: &Bound<'_, PyAny>) -> BindingResult<Vec<Outage>> {
    let mut out = Vec::new();
    for (k, o) in list(obj, "outages")?.iter().enumerate() {
        let place = format!("outages[{k}]");
        let d = dict(&o, &place)?;
        let kind: String = get(&d, "kind", &place)?;
        let kind = match kind.as_str() {
            "oracle_freeze" => OutageKind::OracleFreeze {
                asset: get(&d, "asset", &place)?,
            },
            "liquidators" => OutageKind::Liquidators,
            "sequencer" => OutageKind::Sequencer {
                grace_steps: get(&d, "grace_steps", &place)?,
            },
            "venue_halt" => OutageKind::VenueHalt {
                asset: get(&d, "asset", &place)?,
                venue: get(&d, "venue", &place)?,
            },
            "redemption_pause" => OutageKind::RedemptionPause {
                asset: get(&d, "asset", &place)?,
            },
            other => {
                return Err(BindingError::Scenario(format!(
                    "{place}.kind must be oracle_freeze, liquidators, sequencer, venue_halt or \
                     redemption_pause, got {other:?}"
                )));
            }
        };
        out.push(Outage {
            kind,
            start: get(&d, "start", &place)?,
            end: get(&d, "end", &place)?,
        });
    }
    Ok(out)
}

/// The `replay` list of a scenario spec: one dict per book snapshot.
fn replay(obj: &Bound<'_, PyAny>) -> BindingResult<Vec<Refresh>> {
    let mut out = Vec::new();
    for (k, r) in list(obj, "replay")?.iter().enumerate() {
        let place = format!("replay[{k}]");
        let d = dict(&r, &place)?;
        let col = |key: &str| convert::column(&item(&d, key, &place)?, &format!("{place}.{key}"));
        out.push(Refresh {
            step: get(&d, "step", &place)?,
            asset: get(&d, "asset", &place)?,
            venue: get(&d, "venue", &place)?,
            bid_px: col("bid_px")?,
            bid_qty: col("bid_qty")?,
            ask_px: col("ask_px")?,
            ask_qty: col("ask_qty")?,
            at: get(&d, "at", &place)?,
        });
    }
    Ok(out)
}

/// The `families` list of a scenario spec.
fn families(obj: &Bound<'_, PyAny>, n_assets: usize) -> BindingResult<Vec<Family>> {
    let mut out = Vec::new();
    for (k, f) in list(obj, "families")?.iter().enumerate() {
        let place = format!("families[{k}]");
        let d = dict(&f, &place)?;
        let kind: String = get(&d, "kind", &place)?;
        let name: String = get(&d, "name", &place)?;
        let fam = match kind.as_str() {
            "lending" => Family::Lending(lending::market(&d, n_assets)?),
            "perps" => Family::Perps(perps::exchange(&d, &name)?),
            "funds" => Family::Funds(funds::funds(&d, &name)?),
            "vaults" => Family::Vaults(vaults::vaults(&d, &name)?),
            other => {
                return Err(BindingError::Scenario(format!(
                    "{place}.kind must be lending, perps, vaults or funds, got {other:?}"
                )));
            }
        };
        out.push(fam);
    }
    Ok(out)
}

/// What breaches each family's rule at each row of `prices` (a row per price vector, a column
/// per asset), with nothing traded, by the core's own rules: one dict per family, in scenario
/// order, `{"kind", "at", "row", "debt", "collateral_value", "notional"}` as numpy columns.
#[pyfunction]
#[pyo3(signature = (spec, prices))]
pub fn breached<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyDict>,
    prices: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let Spec { scenario, .. } = convert_spec(spec)?;
    let prices = convert::column(prices, "prices")?;
    let kinds: Vec<&'static str> = scenario
        .families
        .iter()
        .map(deleverage_core::ForcedSeller::kind)
        .collect();
    let found = py
        .detach(|| scenario.breached_at(&prices))
        .map_err(BindingError::from)?;
    let out = PyList::empty(py);
    for (kind, b) in kinds.into_iter().zip(found) {
        let d = crate::columns::table(py, b.into_table())?;
        d.set_item("kind", kind)?;
        out.append(d)?;
    }
    Ok(out)
}
