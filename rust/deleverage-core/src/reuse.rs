//! Clones that reuse the target's buffers, for the engines of a sweep (issue 14, item 1: an
//! arena per worker): a worker keeps the engine of its last run and copies the sweep's pristine
//! engine into it with [`Clone::clone_from`], which a `Vec` does into its own allocation. A
//! derived `Clone` allocates every buffer afresh instead (its `clone_from` is `*self =
//! source.clone()`), and a large run's fresh buffers are fresh pages: page faults on every run.

/// `Clone` for a struct, field by field, with a `clone_from` that clones each field into the
/// target's own (so nested vectors keep their allocations). The source is destructured without
/// `..`: a field missing from the list is a compile error, not a field left stale.
macro_rules! clone_reusing {
    ($T:ident { $($f:ident),* $(,)? }) => {
        impl Clone for $T {
            fn clone(&self) -> Self {
                let $T { $($f),* } = self;
                $T { $($f: $f.clone()),* }
            }

            fn clone_from(&mut self, source: &Self) {
                let $T { $($f),* } = source;
                $(self.$f.clone_from($f);)*
            }
        }
    };
}

pub(crate) use clone_reusing;

/// A copy of `v` with `v`'s room (its capacity, address space only until written): an engine
/// cloned before its run records into the room its columns were given, without regrowing.
pub(crate) fn with_room<T: Copy>(v: &Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(v.capacity());
    out.extend_from_slice(v);
    out
}
