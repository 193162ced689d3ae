//! Which GPU each trial runs on. Trials spread over the GPUs (the one with the fewest trials
//! first, then the most memory left); with `--trials-per-gpu auto` several share a GPU while
//! their estimated memory fits in its free memory, with `--trials-per-gpu N` up to N. A
//! trial that ran out of memory next to others asks for fewer neighbours, and the GPU keeps
//! to that while it runs. A trial too large for any GPU's estimate still runs when a GPU
//! is empty: it can then only fail alone, which is what makes a run failed.

use super::inventory::Gpu;
use std::sync::{Condvar, Mutex};

/// `--trials-per-gpu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PerGpu {
    /// As many as fit in the GPU's free memory by the estimate.
    #[default]
    Auto,
    /// Up to N, whatever the estimate.
    Fixed(usize),
}

impl PerGpu {
    pub fn parse(text: &str) -> Result<PerGpu, String> {
        match text {
            "auto" => Ok(PerGpu::Auto),
            n => n
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .map(PerGpu::Fixed)
                .ok_or_else(|| format!("--trials-per-gpu {text}: expected auto or a whole number from 1")),
        }
    }
}

#[derive(Debug)]
struct Resident {
    id: u64,
    bytes: u64,
    /// After an out-of-memory: at most this many other trials beside it.
    max_neighbours: Option<usize>,
    /// The most other trials that shared its GPU while it ran.
    most_seen: usize,
}

#[derive(Debug, Default)]
struct State {
    /// Per GPU, in `Placement::gpus` order.
    on: Vec<Vec<Resident>>,
    next_id: u64,
}

/// The GPUs and who runs on each.
#[derive(Debug)]
pub struct Placement {
    pub gpus: Vec<Gpu>,
    pub per_gpu: PerGpu,
    state: Mutex<State>,
    freed: Condvar,
}

/// A place on one GPU, held while the trial runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub gpu: Gpu,
    /// Other trials on the GPU when this one started.
    pub neighbours: usize,
    id: u64,
    position: usize,
}

impl Placement {
    pub fn new(gpus: Vec<Gpu>, per_gpu: PerGpu) -> Placement {
        let on = gpus.iter().map(|_| Vec::new()).collect();
        Placement { gpus, per_gpu, state: Mutex::new(State { on, next_id: 0 }), freed: Condvar::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Trials of `need` bytes each that fit on one GPU at once (at least 1).
    pub fn per_gpu_for(&self, gpu: &Gpu, need: u64) -> usize {
        match self.per_gpu {
            PerGpu::Fixed(n) => n,
            PerGpu::Auto => (gpu.free_bytes / need.max(1)).max(1) as usize,
        }
    }

    /// Trials of `need` bytes each that all the GPUs hold at once: `--jobs` when not given.
    pub fn capacity(&self, need: u64) -> usize {
        self.gpus.iter().map(|g| self.per_gpu_for(g, need)).sum::<usize>().max(1)
    }

    /// Whether a trial of `need` bytes, wanting at most `max_neighbours` beside it, may join
    /// GPU `k` now.
    fn fits(&self, state: &State, k: usize, need: u64, max_neighbours: Option<usize>) -> bool {
        let here = &state.on[k];
        if here.is_empty() {
            return true;
        }
        let count = here.len();
        let room = match self.per_gpu {
            PerGpu::Fixed(n) => count < n,
            PerGpu::Auto => here.iter().map(|r| r.bytes).sum::<u64>() + need <= self.gpus[k].free_bytes,
        };
        room && max_neighbours.is_none_or(|m| count <= m) && here.iter().all(|r| r.max_neighbours.is_none_or(|m| count < m + 1))
    }

    /// A place for a trial of `need` bytes now, or None when no GPU has room.
    pub fn try_acquire(&self, need: u64, max_neighbours: Option<usize>) -> Option<Slot> {
        let mut state = self.lock();
        self.take(&mut state, need, max_neighbours)
    }

    fn take(&self, state: &mut State, need: u64, max_neighbours: Option<usize>) -> Option<Slot> {
        let used = |s: &State, k: usize| s.on[k].iter().map(|r| r.bytes).sum::<u64>();
        let k = (0..self.gpus.len())
            .filter(|&k| self.fits(state, k, need, max_neighbours))
            .min_by_key(|&k| (state.on[k].len(), u64::MAX - self.gpus[k].free_bytes.saturating_sub(used(state, k)), k))?;
        let id = state.next_id;
        state.next_id += 1;
        let neighbours = state.on[k].len();
        for r in &mut state.on[k] {
            r.most_seen = r.most_seen.max(neighbours);
        }
        state.on[k].push(Resident { id, bytes: need, max_neighbours, most_seen: neighbours });
        Some(Slot { gpu: self.gpus[k].clone(), neighbours, id, position: k })
    }

    /// A place for a trial of `need` bytes, waiting for one to be released if none has room.
    pub fn acquire(&self, need: u64, max_neighbours: Option<usize>) -> Slot {
        let mut state = self.lock();
        loop {
            if let Some(slot) = self.take(&mut state, need, max_neighbours) {
                return slot;
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Gives the place back; the most other trials that shared the GPU meanwhile.
    pub fn release(&self, slot: &Slot) -> usize {
        let mut state = self.lock();
        let here = &mut state.on[slot.position];
        let most = here.iter().find(|r| r.id == slot.id).map_or(0, |r| r.most_seen);
        here.retain(|r| r.id != slot.id);
        self.freed.notify_all();
        most
    }

    /// Trials on each GPU now, in `gpus` order.
    pub fn counts(&self) -> Vec<usize> {
        self.lock().on.iter().map(Vec::len).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1 << 30;

    fn gpu(index: usize, free_gb: u64) -> Gpu {
        Gpu { index, uuid: format!("GPU-{index}"), name: format!("Fake {index}"), total_bytes: free_gb * GB, free_bytes: free_gb * GB }
    }

    #[test]
    fn trials_spread_over_the_gpus_before_sharing_one() {
        let p = Placement::new(vec![gpu(0, 80), gpu(1, 80), gpu(2, 80)], PerGpu::Auto);
        let slots: Vec<Slot> = (0..6).map(|_| p.try_acquire(GB, None).unwrap()).collect();
        let on: Vec<usize> = slots.iter().map(|s| s.gpu.index).collect();
        assert_eq!(on, [0, 1, 2, 0, 1, 2]);
        assert_eq!(p.counts(), [2, 2, 2]);
        assert_eq!(slots[3].neighbours, 1);
        p.release(&slots[1]);
        assert_eq!(p.try_acquire(GB, None).unwrap().gpu.index, 1, "the GPU with the fewest trials");
    }

    #[test]
    fn auto_never_puts_more_on_a_gpu_than_its_free_memory_by_the_estimate() {
        let p = Placement::new(vec![gpu(0, 10), gpu(1, 4)], PerGpu::Auto);
        assert_eq!(p.capacity(3 * GB), 3 + 1);
        let held: Vec<Slot> = std::iter::from_fn(|| p.try_acquire(3 * GB, None)).take(10).collect();
        assert_eq!(held.len(), 4, "3 of 3 GB in 10 GB, 1 in 4 GB");
        assert_eq!(p.counts(), [3, 1]);
        // A trial larger than any GPU still runs, alone, on an empty one.
        let big = Placement::new(vec![gpu(0, 10)], PerGpu::Auto);
        let alone = big.try_acquire(40 * GB, None).unwrap();
        assert!(big.try_acquire(GB, None).is_none(), "nothing joins it");
        big.release(&alone);
        assert!(big.try_acquire(GB, None).is_some());
    }

    #[test]
    fn a_fixed_number_per_gpu_ignores_the_estimate() {
        let p = Placement::new(vec![gpu(0, 1)], PerGpu::Fixed(3));
        assert_eq!(p.capacity(100 * GB), 3);
        assert_eq!(std::iter::from_fn(|| p.try_acquire(10 * GB, None)).take(5).count(), 3);
        assert_eq!(PerGpu::parse("auto"), Ok(PerGpu::Auto));
        assert_eq!(PerGpu::parse("4"), Ok(PerGpu::Fixed(4)));
        assert!(PerGpu::parse("0").is_err());
    }

    #[test]
    fn after_out_of_memory_a_trial_gets_fewer_neighbours_and_the_gpu_keeps_to_it() {
        let p = Placement::new(vec![gpu(0, 80)], PerGpu::Auto);
        let a = p.try_acquire(GB, None).unwrap();
        let b = p.try_acquire(GB, None).unwrap();
        let c = p.try_acquire(GB, None).unwrap();
        assert_eq!(p.release(&c), 2, "c shared the GPU with 2 others");
        // c ran out of memory beside 2: it may now run beside at most 1, so it waits.
        assert!(p.try_acquire(GB, Some(1)).is_none());
        p.release(&b);
        let c = p.try_acquire(GB, Some(1)).unwrap();
        assert_eq!(c.neighbours, 1);
        assert!(p.try_acquire(GB, None).is_none(), "no third trial while c allows one neighbour");
        p.release(&a);
        assert!(p.try_acquire(GB, None).is_some(), "a second one is allowed");
    }

    #[test]
    fn a_waiting_trial_starts_when_a_place_is_released() {
        let p = std::sync::Arc::new(Placement::new(vec![gpu(0, 80)], PerGpu::Fixed(1)));
        let first = p.acquire(GB, None);
        let p2 = p.clone();
        let waiter = std::thread::spawn(move || p2.acquire(GB, None).neighbours);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "it waits while the GPU is full");
        p.release(&first);
        assert_eq!(waiter.join().unwrap(), 0);
    }
}
