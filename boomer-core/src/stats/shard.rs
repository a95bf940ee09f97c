//! The record path and its lock: each thread's shard of entries, found by (method, name)
//! without hashing in the common case, behind a one-word spin lock that only the reporter
//! ever contends.
//!
//! Everything unsafe in the statistics is here ([`ShardCell`]), so that reading how entries
//! are counted or reported never means reading past it.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::entry::Entry;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The Fx hash (rustc's): a multiply and a rotate per word, ample for short keys that an
/// attacker does not choose.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.add(word);
        }
        // The tail as one word, not a multiply per byte: names are short, so most of a
        // name is tail.
        // (Shifts, not copy_from_slice: a variable-length copy is a call to memmove.)
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let word = tail
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, &b)| w | (u64::from(b) << (8 * i)));
            self.add(word ^ ((tail.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// One thread's records since the last drain, in the order first seen. A record looks up
/// its (method, name) among the few keys recorded last (byte compares, no hashing), and only
/// on a miss hashes the pair and probes `index` (hash → first slot; collisions chain
/// through [`Slot::next`]).
pub(super) struct Shard {
    slots: Vec<Slot>,
    index: FxMap<u64, u32>,
    /// The slots recorded into last, most recent first (`NONE` when unused).
    recent: [u32; RECENT],
}

/// How many recent keys a shard compares before it hashes: a user mixes a few task names.
const RECENT: usize = 4;
const NONE: u32 = u32::MAX;

impl Default for Shard {
    fn default() -> Self {
        Shard {
            slots: Vec::new(),
            index: FxMap::default(),
            recent: [NONE; RECENT],
        }
    }
}

struct Slot {
    method: String,
    name: String,
    /// The next slot whose key has the same hash, or `NONE`.
    next: u32,
    entry: Entry,
}

impl Slot {
    #[inline(always)]
    fn is(&self, method: &str, name: &str) -> bool {
        same_bytes(self.name.as_bytes(), name.as_bytes())
            && same_bytes(self.method.as_bytes(), method.as_bytes())
    }
}

/// `a == b` without a call to `memcmp` for the short keys records use: lengths first, then
/// two (overlapping) loads per side up to 16 bytes.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn word(s: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(w)
    }
    fn half(s: &[u8], at: usize) -> u32 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_ne_bytes(w)
    }
    match n {
        0 => true,
        1..4 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

impl Shard {
    /// The entry of (method, name), made if new.
    #[inline(always)]
    pub(super) fn entry(&mut self, method: &str, name: &str) -> &mut Entry {
        let last = self.recent[0];
        let i = match self.slots.get(last as usize) {
            Some(s) if s.is(method, name) => last,
            _ => self.find(method, name),
        };
        &mut self.slots[i as usize].entry
    }

    /// The slot of (method, name), made if new, moved to the front of `recent`.
    #[inline(never)]
    fn find(&mut self, method: &str, name: &str) -> u32 {
        for j in 1..RECENT {
            let r = self.recent[j];
            if self
                .slots
                .get(r as usize)
                .is_some_and(|s| s.is(method, name))
            {
                self.recent.copy_within(0..j, 1);
                self.recent[0] = r;
                return r;
            }
        }
        let mut h = FxHasher::default();
        h.write(method.as_bytes());
        h.write_u8(0xff); // not UTF-8: ("ab", "c") and ("a", "bc") differ
        h.write(name.as_bytes());
        let head = self.index.get(&h.finish()).copied().unwrap_or(NONE);
        let mut i = head;
        while let Some(s) = self.slots.get(i as usize) {
            if s.is(method, name) {
                break;
            }
            i = s.next;
        }
        if i == NONE {
            // The allocation happens once per (method, name) per window.
            i = u32::try_from(self.slots.len()).unwrap_or(NONE - 1);
            self.slots.push(Slot {
                method: method.to_string(),
                name: name.to_string(),
                next: head,
                entry: Entry::default(),
            });
            self.index.insert(h.finish(), i);
        }
        self.recent.copy_within(0..RECENT - 1, 1);
        self.recent[0] = i;
        i
    }
}

/// A thread's shard behind a one-word lock. Only its own thread records into it; the
/// reporter takes it every 3 s for as long as a `mem::take`. So the lock is all but never
/// contended, and its release is a plain store (a `Mutex` pays a second atomic swap to
/// look for sleepers).
#[derive(Default)]
struct ShardCell {
    locked: AtomicBool,
    shard: UnsafeCell<Shard>,
}

// SAFETY: the shard is only reached through `with`, which holds `locked` (an acquire/release
// spin lock) for the whole access; `Shard` is `Send`.
unsafe impl Sync for ShardCell {}

impl ShardCell {
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Shard) -> R) -> R {
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.wait();
        }
        struct Unlock<'a>(&'a AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _unlock = Unlock(&self.locked);
        // SAFETY: `locked` is ours until `_unlock` drops, so no other reference to the
        // shard exists meanwhile.
        f(unsafe { &mut *self.shard.get() })
    }

    /// The other side holds the lock (for a few instructions): spin, then let it run.
    #[cold]
    #[inline(never)]
    fn wait(&self) {
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    fn take(&self) -> Shard {
        self.with(mem::take)
    }
}

/// Every thread's shard, for the reporter to drain.
struct Hub {
    shards: Mutex<Vec<Arc<ShardCell>>>,
}

static HUB: Hub = Hub {
    shards: Mutex::new(Vec::new()),
};

thread_local! {
    static LOCAL: Arc<ShardCell> = {
        let shard = Arc::new(ShardCell::default());
        lock(&HUB.shards).push(shard.clone());
        shard
    };
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the hub was held leaves a plain list behind: still valid data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on this thread's shard, under its lock.
#[inline(always)]
pub(super) fn with_shard(f: impl FnOnce(&mut Shard)) {
    let mut f = Some(f);
    let done = LOCAL.try_with(|shard| {
        if let Some(f) = f.take() {
            shard.with(f);
        }
    });
    if done.is_err() {
        // The thread is being torn down: record into a shard of its own, kept by the hub.
        let shard = Arc::new(ShardCell::default());
        if let Some(f) = f.take() {
            shard.with(f);
        }
        lock(&HUB.shards).push(shard);
    }
}

/// Takes every thread's records, each (method, name, entry) in the order first seen, and
/// leaves the shards empty. Shards whose thread has exited are held only by the hub and are
/// now empty: they go.
pub(super) fn take_all(mut each: impl FnMut(String, String, Entry)) {
    let mut shards = lock(&HUB.shards);
    for shard in shards.iter() {
        for slot in shard.take().slots {
            each(slot.method, slot.name, slot.entry);
        }
    }
    shards.retain(|s| Arc::strong_count(s) > 1);
}

/// How many shards only the hub holds (their thread has exited): none after [`take_all`].
#[cfg(test)]
pub(super) fn orphans() -> usize {
    lock(&HUB.shards)
        .iter()
        .filter(|s| Arc::strong_count(s) == 1)
        .count()
}
