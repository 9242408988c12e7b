//! What indirect call sites have called: one cell per `calli` of each
//! function, written by template code with tier-up counters and read by the
//! Cranelift tier, which calls (and inlines) a site's one callee behind a
//! guard.

use crate::bytecode::{Module, Opcode};
use std::sync::atomic::{AtomicU64, Ordering};

/// A cell no call has reached yet.
pub const SITE_UNSEEN: u64 = 0;
/// A cell whose site has called more than one function.
pub const SITE_POLYMORPHIC: u64 = u64::MAX;

/// Per function, one cell per `calli`, in code order: [`SITE_UNSEEN`],
/// `f + 1` when the site has called only function `f`, or
/// [`SITE_POLYMORPHIC`]. The cells never move while the profile lives.
#[derive(Debug)]
pub struct CallProfiles {
    cells: Box<[Box<[AtomicU64]>]>,
}

impl CallProfiles {
    /// Empty cells for every `calli` of `module`.
    pub fn new(module: &Module) -> CallProfiles {
        let cells = module
            .functions
            .iter()
            .map(|f| {
                let sites = f
                    .code
                    .iter()
                    .filter(|op| op.opcode == Opcode::CallI)
                    .count();
                (0..sites).map(|_| AtomicU64::new(SITE_UNSEEN)).collect()
            })
            .collect();
        CallProfiles { cells }
    }

    /// The cells of function `func` (empty for an index past the module).
    pub fn cells(&self, func: usize) -> &[AtomicU64] {
        self.cells.get(func).map_or(&[], |c| c)
    }

    /// The one function site `site` of `func` has called, if exactly one.
    pub fn target(&self, func: usize, site: usize) -> Option<u16> {
        let v = self.cells(func).get(site)?.load(Ordering::Relaxed);
        match v {
            SITE_UNSEEN | SITE_POLYMORPHIC => None,
            f => u16::try_from(f - 1).ok(),
        }
    }
}

/// The site number of the `calli` at `pc` of `code`: how many `calli` ops
/// come before it.
pub fn site_of(code: &[crate::bytecode::Op], pc: usize) -> usize {
    code[..pc.min(code.len())]
        .iter()
        .filter(|op| op.opcode == Opcode::CallI)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_count_sites_and_read_one_target() {
        let m = crate::bytecode::text::parse(
            "type t = () -> none\nfunc f() -> none\n  fref r0, f\n  calli t, r0, 0\n  calli t, r0, 0\n  ret\nend\n",
        )
        .unwrap();
        let p = CallProfiles::new(&m);
        assert_eq!(p.cells(0).len(), 2);
        assert_eq!(site_of(&m.functions[0].code, 2), 1);
        assert_eq!(p.target(0, 0), None);
        p.cells(0)[0].store(1, Ordering::Relaxed);
        p.cells(0)[1].store(SITE_POLYMORPHIC, Ordering::Relaxed);
        assert_eq!((p.target(0, 0), p.target(0, 1)), (Some(0), None));
        assert!(p.cells(9).is_empty());
    }
}
