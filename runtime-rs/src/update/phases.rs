//! The new process's stopwatch: each phase of the transfer stage and how
//! long it took, reported with the stage (`TransferCounts::phases`) so an
//! operator, and the pause benchmark, see where a slow update spends it.

use std::time::Instant;

use lucc_abi::control::Phase;

pub struct Phases {
    last: Instant,
    done: Vec<Phase>,
}

impl Phases {
    pub fn start() -> Phases {
        Phases { last: Instant::now(), done: Vec::new() }
    }

    /// Ends the phase running since the previous lap (or the start).
    pub fn lap(&mut self, name: &str) {
        let now = Instant::now();
        self.done.push(Phase { name: name.to_string(), us: now.duration_since(self.last).as_micros() as u64 });
        self.last = now;
    }

    pub fn into_vec(self) -> Vec<Phase> {
        self.done
    }
}
