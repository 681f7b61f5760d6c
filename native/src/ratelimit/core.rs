//! Token buckets keyed by string, Python-free: every operation takes `now` in seconds.
//!
//! A bucket holds up to `burst` tokens and refills at `rate` tokens per second. Time never
//! goes backwards inside a bucket: a `now` older than the bucket's last update counts as that
//! update's time. Formulas are kept in this exact order so the Python reference
//! (`ccx.native_ref.ratelimit`) gets bit-identical results.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub rate: f64,
    pub burst: f64,
}

impl Limits {
    pub fn new(rate: f64, burst: f64) -> Result<Limits, &'static str> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err("rate must be a finite number > 0");
        }
        if !(burst.is_finite() && burst >= 1.0) {
            return Err("burst must be a finite number >= 1");
        }
        Ok(Limits { rate, burst })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    limits: Limits,
    tokens: f64,
    /// Time of the last refill, which is also the last use.
    last: f64,
}

impl Bucket {
    fn full(limits: Limits, now: f64) -> Bucket {
        Bucket {
            limits,
            tokens: limits.burst,
            last: now,
        }
    }

    /// Tokens at `now` (clamped to not before `last`), without changing the bucket.
    fn level(&self, now: f64) -> f64 {
        let now = now.max(self.last);
        self.limits
            .burst
            .min(self.tokens + (now - self.last) * self.limits.rate)
    }

    fn refill(&mut self, now: f64) {
        self.tokens = self.level(now);
        self.last = now.max(self.last);
    }

    fn acquire(&mut self, n: f64, now: f64) -> (bool, f64) {
        self.refill(now);
        if self.tokens >= n {
            self.tokens -= n;
            (true, 0.0)
        } else if n > self.limits.burst {
            (false, f64::INFINITY)
        } else {
            (false, (n - self.tokens) / self.limits.rate)
        }
    }
}

/// Checks an explicit time or token count from the caller.
pub fn check_now(now: f64) -> Result<f64, &'static str> {
    if now.is_finite() {
        Ok(now)
    } else {
        Err("now must be a finite number of seconds")
    }
}

pub fn check_n(n: f64) -> Result<f64, &'static str> {
    if n.is_finite() && n >= 0.0 {
        Ok(n)
    } else {
        Err("n must be a finite number >= 0")
    }
}

#[derive(Debug, Clone)]
pub struct Buckets {
    default: Limits,
    overrides: HashMap<String, Limits>,
    buckets: HashMap<String, Bucket>,
}

impl Buckets {
    pub fn new(default: Limits) -> Buckets {
        Buckets {
            default,
            overrides: HashMap::new(),
            buckets: HashMap::new(),
        }
    }

    fn limits(&self, key: &str) -> Limits {
        self.overrides.get(key).copied().unwrap_or(self.default)
    }

    /// Sets per-key limits (kept across eviction). An existing bucket is refilled at its old
    /// rate up to `now`, then keeps its tokens clamped to the new burst.
    pub fn configure(&mut self, key: &str, limits: Limits, now: f64) {
        self.overrides.insert(key.to_owned(), limits);
        if let Some(b) = self.buckets.get_mut(key) {
            b.refill(now);
            b.limits = limits;
            b.tokens = b.tokens.min(limits.burst);
        }
    }

    /// Takes `n` tokens if available: (true, 0.0); else (false, seconds until `n` tokens are
    /// there, or infinity if `n` exceeds the burst). A new key starts full.
    pub fn try_acquire(&mut self, key: &str, n: f64, now: f64) -> (bool, f64) {
        if let Some(b) = self.buckets.get_mut(key) {
            return b.acquire(n, now);
        }
        let mut b = Bucket::full(self.limits(key), now);
        let verdict = b.acquire(n, now);
        self.buckets.insert(key.to_owned(), b);
        verdict
    }

    pub fn tokens(&self, key: &str, now: f64) -> f64 {
        match self.buckets.get(key) {
            Some(b) => b.level(now),
            None => self.limits(key).burst,
        }
    }

    /// Forgets the key: its bucket and its per-key limits.
    pub fn remove(&mut self, key: &str) {
        self.buckets.remove(key);
        self.overrides.remove(key);
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Drops buckets that are full at `now` and were last used at least `idle_s` ago: such a
    /// bucket is indistinguishable from a new one. Returns how many were dropped.
    pub fn evict_idle(&mut self, idle_s: f64, now: f64) -> usize {
        let before = self.buckets.len();
        self.buckets
            .retain(|_, b| !(now - b.last >= idle_s && b.level(now) >= b.limits.burst));
        before - self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(rate: f64, burst: f64) -> Buckets {
        Buckets::new(Limits::new(rate, burst).unwrap())
    }

    #[test]
    fn validates_limits() {
        assert!(Limits::new(0.0, 1.0).is_err());
        assert!(Limits::new(-1.0, 1.0).is_err());
        assert!(Limits::new(f64::NAN, 1.0).is_err());
        assert!(Limits::new(f64::INFINITY, 1.0).is_err());
        assert!(Limits::new(1.0, 0.5).is_err());
        assert!(Limits::new(1.0, f64::NAN).is_err());
        assert!(Limits::new(0.001, 1.0).is_ok());
        assert!(check_n(-1.0).is_err());
        assert!(check_n(f64::NAN).is_err());
        assert!(check_now(f64::INFINITY).is_err());
    }

    #[test]
    fn new_key_starts_full_and_burst_drains() {
        let mut b = buckets(1.0, 3.0);
        assert_eq!(b.tokens("k", 0.0), 3.0);
        assert_eq!(b.len(), 0);
        for _ in 0..3 {
            assert_eq!(b.try_acquire("k", 1.0, 10.0), (true, 0.0));
        }
        assert_eq!(b.try_acquire("k", 1.0, 10.0), (false, 1.0));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn refills_at_rate_up_to_burst() {
        let mut b = buckets(2.0, 4.0);
        assert!(b.try_acquire("k", 4.0, 0.0).0);
        assert_eq!(b.tokens("k", 0.5), 1.0);
        assert_eq!(b.tokens("k", 100.0), 4.0);
        assert_eq!(b.try_acquire("k", 2.0, 0.25), (false, 0.75));
        assert_eq!(b.try_acquire("k", 2.0, 1.0), (true, 0.0));
    }

    #[test]
    fn retry_after_is_time_until_n_tokens_or_infinite() {
        let mut b = buckets(0.5, 2.0);
        assert!(b.try_acquire("k", 2.0, 0.0).0);
        assert_eq!(b.try_acquire("k", 1.5, 0.0), (false, 3.0));
        assert_eq!(b.try_acquire("k", 2.5, 0.0), (false, f64::INFINITY));
        assert_eq!(b.try_acquire("k", 0.0, 0.0), (true, 0.0));
    }

    #[test]
    fn clock_going_backwards_does_not_refill_or_drain() {
        let mut b = buckets(1.0, 2.0);
        assert!(b.try_acquire("k", 2.0, 100.0).0);
        assert_eq!(b.try_acquire("k", 1.0, 50.0), (false, 1.0));
        assert_eq!(b.tokens("k", 0.0), 0.0);
        // Time resumes from the bucket's latest instant, not from the earlier one.
        assert_eq!(b.try_acquire("k", 1.0, 101.0), (true, 0.0));
    }

    #[test]
    fn configure_clamps_and_survives_eviction() {
        let mut b = buckets(1.0, 10.0);
        assert!(b.try_acquire("k", 1.0, 0.0).0);
        b.configure("k", Limits::new(5.0, 3.0).unwrap(), 0.0);
        assert_eq!(b.tokens("k", 0.0), 3.0);
        assert!(b.try_acquire("k", 3.0, 0.0).0);
        assert_eq!(b.try_acquire("k", 1.0, 0.0), (false, 0.2));
        assert_eq!(b.evict_idle(1.0, 10.0), 1);
        assert_eq!(b.tokens("k", 10.0), 3.0);
        assert_eq!(b.try_acquire("k", 4.0, 10.0), (false, f64::INFINITY));
        b.configure("new", Limits::new(1.0, 1.0).unwrap(), 0.0);
        assert_eq!(b.len(), 1);
        b.remove("k");
        assert_eq!(b.tokens("k", 10.0), 10.0);
    }

    #[test]
    fn configure_refills_at_the_old_rate_first() {
        let mut b = buckets(1.0, 10.0);
        assert!(b.try_acquire("k", 10.0, 0.0).0);
        b.configure("k", Limits::new(100.0, 10.0).unwrap(), 2.0);
        assert_eq!(b.tokens("k", 2.0), 2.0);
    }

    #[test]
    fn evicts_only_full_idle_buckets() {
        let mut b = buckets(1.0, 2.0);
        assert!(b.try_acquire("used", 2.0, 0.0).0);
        assert!(b.try_acquire("idle", 1.0, 0.0).0);
        assert!(b.try_acquire("recent", 0.0, 9.5).0);
        assert_eq!(b.evict_idle(1.0, 0.5), 0, "nothing idle for 1 s yet");
        assert_eq!(b.evict_idle(1.0, 1.5), 1, "only 'idle' is full again");
        assert_eq!(b.evict_idle(5.0, 10.0), 1);
        assert_eq!(b.len(), 1);
        assert_eq!(b.tokens("recent", 10.0), 2.0);
        assert_eq!(b.evict_idle(0.0, 10.0), 1);
        assert!(b.is_empty());
    }

    #[test]
    fn many_keys_are_independent() {
        let mut b = buckets(1.0, 1.0);
        for i in 0..10_000 {
            assert!(b.try_acquire(&format!("k{i}"), 1.0, 0.0).0);
        }
        assert_eq!(b.len(), 10_000);
        for i in 0..10_000 {
            assert!(!b.try_acquire(&format!("k{i}"), 1.0, 0.5).0);
        }
        assert_eq!(b.evict_idle(1.0, 2.0), 10_000);
    }

    #[test]
    fn fractional_tokens() {
        let mut b = buckets(10.0, 1.0);
        assert!(b.try_acquire("k", 0.25, 0.0).0);
        assert!(b.try_acquire("k", 0.75, 0.0).0);
        let (ok, retry) = b.try_acquire("k", 0.5, 0.0);
        assert!(!ok);
        assert!((retry - 0.05).abs() < 1e-12);
    }
}
