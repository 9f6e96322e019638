//! A held-open run: an [`Engine`] and where it stands on its scenario's own exogenous path, as a
//! backtest drives it (DESIGN §2: the engine `simulate` drives, held open). A step takes the
//! path's row (or holds the last reference once the path has run out) unless the caller gives
//! other prices. The whole session serialises, so a pickled or shipped session continues
//! identically.

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, StepReport};
use crate::error::{Error, Result};
use crate::memory;
use crate::recorder::StepRow;
use crate::scenario::{Refresh, Scenario};
use crate::venue::AnyVenue;

/// An engine and its position on the scenario's path.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    engine: Engine,
    /// The scenario's exogenous path, row-major (steps × assets).
    path: Vec<f64>,
    n: usize,
    /// Next row of `path`.
    cursor: usize,
    /// The reference of the last step run (the scenario's start before any).
    last: Vec<f64>,
    /// Steps `run_to_quiet` may add after the path, by default.
    max_extra: u32,
    /// A buffer for the next step's reference.
    #[serde(skip)]
    scratch: Vec<f64>,
    /// Book snapshots to apply, by step, and the next one to apply.
    refreshes: Vec<Refresh>,
    next_refresh: usize,
}

/// Refuses a run whose reference path and steps table (`steps` steps on `n` assets, and up to
/// `max_extra` more to reach quiet) would need more memory than the machine has. Called before
/// the path is generated.
pub fn check_run_size(n: usize, steps: usize, max_extra: u32) -> Result<()> {
    let row = (n * std::mem::size_of::<StepRow>()) as u64;
    memory::check(
        "steps",
        steps as u64,
        row + 8 * n as u64,
        "the reference path and the steps table",
    )?;
    memory::check(
        "max_extra_steps",
        u64::from(max_extra),
        row,
        "the steps table of every extra step",
    )
}

impl Session {
    /// A session of `sc` on `path` (row-major, one price per asset per step).
    pub fn new(sc: Scenario, seed: u64, path: Vec<f64>, max_extra: u32) -> Result<Self> {
        let last = sc.initial_prices();
        let n = last.len();
        check_run_size(n, path.len() / n.max(1), max_extra)?;
        let engine = Engine::new(sc, seed)?;
        if !path.len().is_multiple_of(n) {
            return Err(Error::LengthMismatch {
                field: "path".to_owned(),
                got: path.len(),
                other: "a multiple of the assets".to_owned(),
                expected: n,
            });
        }
        Ok(Session {
            engine,
            path,
            n,
            cursor: 0,
            last,
            max_extra,
            scratch: Vec::with_capacity(n),
            refreshes: Vec::new(),
            next_refresh: 0,
        })
    }

    /// The session with recorded book snapshots to apply at the start of their steps. Each is
    /// checked now: its asset and venue (an order book) exist and its levels are a valid book.
    pub fn with_refreshes(mut self, mut refreshes: Vec<Refresh>) -> Result<Self> {
        for (i, r) in refreshes.iter().enumerate() {
            let at = |e: Error| Error::Row {
                what: "replay",
                index: i,
                source: Box::new(e),
            };
            let a = r.asset as usize;
            if a >= self.n {
                return Err(at(Error::OutOfRange {
                    field: "asset".to_owned(),
                    value: f64::from(r.asset),
                    expected: "the index of an asset of the scenario",
                }));
            }
            match self.engine.market().venues(a).get(r.venue as usize) {
                Some(AnyVenue::Book(b)) => {
                    let mut probe = b.clone();
                    probe
                        .refresh(&r.bid_px, &r.bid_qty, &r.ask_px, &r.ask_qty, r.at)
                        .map_err(at)?;
                }
                _ => {
                    return Err(at(Error::OutOfRange {
                        field: "venue".to_owned(),
                        value: f64::from(r.venue),
                        expected: "the index of one of the asset's order books",
                    }));
                }
            }
        }
        // Stable: snapshots of one step apply in the order given.
        refreshes.sort_by_key(|r| r.step);
        self.refreshes = refreshes;
        Ok(self)
    }

    /// Applies the snapshots due at the engine's next step.
    fn apply_refreshes(&mut self) -> Result<()> {
        let step = self.engine.current_step();
        while let Some(r) = self.refreshes.get(self.next_refresh) {
            if r.step > step {
                break;
            }
            if r.step == step {
                self.engine
                    .refresh_book(r.asset as usize, r.venue as usize, r)?;
            }
            self.next_refresh += 1;
        }
        Ok(())
    }

    /// Whether book snapshots remain to be applied.
    fn replaying(&self) -> bool {
        self.next_refresh < self.refreshes.len()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The engine, for a finished session.
    pub fn into_engine(self) -> Engine {
        self.engine
    }

    pub fn n_assets(&self) -> usize {
        self.n
    }

    /// Steps of the scenario's own path.
    pub fn path_steps(&self) -> usize {
        self.path.len() / self.n
    }

    /// The next step's reference: the path's row (or the last reference once the path has run
    /// out), with the non-NaN entries of `over` in place of those assets.
    pub fn reference(&self, over: Option<&[f64]>) -> Result<Vec<f64>> {
        let mut row = Vec::with_capacity(self.n);
        self.reference_into(over, &mut row)?;
        Ok(row)
    }

    /// [`Session::reference`] written into `row` (no allocation once it has room).
    fn reference_into(&self, over: Option<&[f64]>, row: &mut Vec<f64>) -> Result<()> {
        row.clear();
        if self.cursor < self.path_steps() {
            row.extend_from_slice(&self.path[self.cursor * self.n..(self.cursor + 1) * self.n]);
        } else {
            row.extend_from_slice(&self.last);
        }
        if let Some(over) = over {
            if over.len() != self.n {
                return Err(Error::LengthMismatch {
                    field: "reference".to_owned(),
                    got: over.len(),
                    other: "assets".to_owned(),
                    expected: self.n,
                });
            }
            // NaN leaves an asset to the path.
            for (r, &o) in row.iter_mut().zip(over) {
                if !o.is_nan() {
                    *r = o;
                }
            }
        }
        Ok(())
    }

    /// One step at the next reference, with `over` in place where given (see
    /// [`Session::reference`]).
    pub fn step(&mut self, over: Option<&[f64]>) -> Result<StepReport> {
        // The row is built in the scratch buffer, then becomes `last` (the old `last` the next
        // scratch): a step allocates nothing.
        let mut row = std::mem::take(&mut self.scratch);
        self.reference_into(over, &mut row)?;
        if self.replaying() {
            self.apply_refreshes()?;
        }
        let r = match self.engine.step(&row) {
            Ok(r) => r,
            Err(e) => {
                self.scratch = row;
                return Err(e);
            }
        };
        self.cursor += 1;
        self.scratch = std::mem::replace(&mut self.last, row);
        Ok(r)
    }

    /// One step per row of `rows` (one price per asset, NaN for the path's), polling
    /// `interrupted` before each. Returns the steps run.
    pub fn run(&mut self, rows: &[f64], mut interrupted: impl FnMut() -> bool) -> Result<u32> {
        if !rows.len().is_multiple_of(self.n) {
            return Err(Error::LengthMismatch {
                field: "references".to_owned(),
                got: rows.len(),
                other: "a multiple of the assets".to_owned(),
                expected: self.n,
            });
        }
        self.engine.reserve_steps(rows.len() / self.n);
        let mut done = 0;
        for over in rows.chunks(self.n) {
            if interrupted() {
                break;
            }
            self.step(Some(over))?;
            done += 1;
        }
        Ok(done)
    }

    /// What is left of the path, then the last reference held until the market is quiet, at
    /// most `max_extra` more steps (the session's own by default): [`Engine::run`], the loop
    /// `simulate` runs. Returns whether the market is quiet.
    pub fn run_to_quiet(
        &mut self,
        max_extra: Option<u32>,
        mut interrupted: impl FnMut() -> bool,
    ) -> Result<bool> {
        let max_extra = max_extra.unwrap_or(self.max_extra);
        if self.replaying() {
            // Snapshots are due at given steps: step through the path one step at a time (the
            // same steps as `Engine::run`), then hold the last reference until quiet.
            while self.cursor < self.path_steps() {
                if interrupted() {
                    return Ok(self.engine.is_quiet());
                }
                self.step(None)?;
            }
            let last = self.last.clone();
            for _ in 0..max_extra {
                if interrupted() || self.engine.is_quiet() {
                    break;
                }
                if self.replaying() {
                    self.apply_refreshes()?;
                }
                self.engine.step(&last)?;
            }
            return Ok(self.engine.is_quiet());
        }
        // Steps run past the path (the caller's own references) leave nothing of it to run.
        let from = (self.cursor * self.n).min(self.path.len());
        let rest = &self.path[from..];
        if rest.is_empty() {
            let last = self.last.clone();
            for _ in 0..max_extra {
                if interrupted() || self.engine.settle(&last, 1)? {
                    break;
                }
            }
        } else {
            let before = self.engine.current_step();
            self.engine.run(rest, max_extra, &mut interrupted)?;
            let ran = (self.engine.current_step() - before) as usize;
            let on_path = ran.min(rest.len() / self.n);
            if on_path > 0 {
                self.last = rest[(on_path - 1) * self.n..on_path * self.n].to_vec();
            }
            self.cursor += ran;
        }
        Ok(self.engine.is_quiet())
    }

    /// The whole session as bytes (postcard): everything a copy needs to continue identically.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        postcard::to_allocvec(self).map_err(|e| Error::State {
            why: format!("it could not be written: {e}"),
        })
    }

    /// A session from [`Session::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        postcard::from_bytes(bytes).map_err(|e| Error::State {
            why: format!("the bytes are not a saved engine of this version: {e}"),
        })
    }
}
