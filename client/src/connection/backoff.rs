//! Exponential backoff with jitter between reconnect attempts.
//!
//! Why jitter: when a broker restarts, every client that lost its connection would otherwise
//! come back at the same instants. Like the Java client (`ExponentialBackoff`, jitter 0.2) the
//! wait is `initial * 2^failures`, capped at `max`, then scaled by a random factor in
//! [0.8, 1.2]. Unlike Java we cap again after the jitter, so `reconnect.backoff.max.ms` is a
//! true maximum.
//!
//! What not: no cryptographic randomness; jitter only needs to spread clients apart, so a
//! hash of a counter with the process's random `RandomState` keys is enough and costs no
//! dependency.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How far the jitter moves a wait, as a fraction of it.
const JITTER: f64 = 0.2;

/// The reconnect schedule of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
}

impl Backoff {
    /// `initial` after the first failure, doubling, never above `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max }
    }

    /// The wait after `failures` consecutive failures (0 = after the first), with jitter.
    pub fn delay(&self, failures: u32) -> Duration {
        self.delay_with(failures, random_unit())
    }

    /// The wait after `failures` consecutive failures, with the jitter drawn as `unit` in
    /// [0, 1): 0 gives the lowest wait, values near 1 the highest.
    pub fn delay_with(&self, failures: u32, unit: f64) -> Duration {
        // 2^failures overflows nothing: the exponent is capped where the product passes `max`.
        let exp = self
            .initial
            .checked_mul(1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX)
            .min(self.max);
        let factor = 1.0 - JITTER + 2.0 * JITTER * unit.clamp(0.0, 1.0);
        exp.mul_f64(factor).min(self.max)
    }
}

/// A number in [0, 1) that differs from call to call and from process to process.
fn random_unit() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static KEYS: RandomState = RandomState::new();
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let bits = KEYS.with(|keys| keys.hash_one(n));
    // The top 53 bits fill an f64 mantissa exactly.
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn grows_exponentially_within_jitter_bounds() {
        let b = Backoff::new(ms(50), ms(1000));
        for (failures, base) in [(0, 50.0), (1, 100.0), (2, 200.0), (3, 400.0), (4, 800.0)] {
            let lo = b.delay_with(failures, 0.0).as_secs_f64() * 1000.0;
            let hi = b.delay_with(failures, 0.999_999).as_secs_f64() * 1000.0;
            assert!((lo - base * 0.8).abs() < 0.01, "{failures}: {lo}");
            assert!(hi <= (base * 1.2).min(1000.0) + 0.01, "{failures}: {hi}");
            assert!(hi > base, "{failures}: {hi}");
        }
    }

    #[test]
    fn never_exceeds_max_even_with_huge_exponents() {
        let b = Backoff::new(ms(50), ms(1000));
        for failures in [5, 10, 31, 32, 1000, u32::MAX] {
            for unit in [0.0, 0.5, 0.999] {
                let d = b.delay_with(failures, unit);
                assert!(d <= ms(1000), "{failures}/{unit}: {d:?}");
                assert!(d >= ms(800), "{failures}/{unit}: {d:?}");
            }
        }
        // A max below the initial wait is the cap (Java does the same).
        assert!(Backoff::new(ms(500), ms(100)).delay(0) <= ms(100));
        assert_eq!(Backoff::new(ms(0), ms(0)).delay(3), ms(0));
    }

    #[test]
    fn random_delays_stay_in_bounds_and_vary() {
        let b = Backoff::new(ms(100), ms(10_000));
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(2)).collect();
        assert!(delays.iter().all(|d| *d >= ms(320) && *d <= ms(480)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(
            distinct.len() > 50,
            "jitter should vary: {}",
            distinct.len()
        );
    }
}
