//! The mock's rate limit: requests per second per tenant, as a token bucket that holds a
//! second's worth (a burst of `per_second` requests, then `per_second` a second). A
//! request over it is answered 429 with `Retry-After`, in whole seconds as FastComments
//! sends it (`super::super::faults` does the answering).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::lock;

/// The limit, and each tenant's bucket.
#[derive(Debug, Default)]
pub(crate) struct RateLimit {
    inner: Mutex<Option<Limit>>,
}

#[derive(Debug)]
struct Limit {
    per_second: u32,
    buckets: HashMap<String, Bucket>,
    refused: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// `Some(n)`: at most `n` requests per second per tenant from now on (buckets start
    /// full); `None` or `Some(0)`: no limit.
    pub(crate) fn set(&self, per_second: Option<u32>) {
        *lock(&self.inner) = per_second.filter(|&n| n > 0).map(|per_second| Limit {
            per_second,
            buckets: HashMap::new(),
            refused: 0,
        });
    }

    /// Takes a token for `tenant` at `now`; `Err(wait)` when its bucket is empty: how
    /// long until the next token, rounded up to whole seconds (at least one).
    pub(crate) fn admit(&self, tenant: &str, now: Instant) -> Result<(), Duration> {
        let mut guard = lock(&self.inner);
        let Some(limit) = guard.as_mut() else {
            return Ok(());
        };
        let rate = f64::from(limit.per_second);
        let bucket = limit.buckets.entry(tenant.to_owned()).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(rate);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        limit.refused += 1;
        let wait = ((1.0 - bucket.tokens) / rate).ceil().max(1.0);
        Err(Duration::from_secs_f64(wait))
    }

    /// Requests answered 429 since the limit was set.
    pub(crate) fn refused(&self) -> u64 {
        lock(&self.inner).as_ref().map_or(0, |limit| limit.refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_a_second_then_the_rate_per_tenant() {
        let limit = RateLimit::default();
        let t0 = Instant::now();
        assert!(limit.admit("a", t0).is_ok(), "no limit set");
        limit.set(Some(2));
        assert!(limit.admit("a", t0).is_ok());
        assert!(limit.admit("a", t0).is_ok());
        assert_eq!(limit.admit("a", t0), Err(Duration::from_secs(1)));
        assert!(limit.admit("b", t0).is_ok(), "another tenant's bucket");
        let later = t0 + Duration::from_millis(500);
        assert!(
            limit.admit("a", later).is_ok(),
            "one token back after 1/2 s"
        );
        assert!(limit.admit("a", later).is_err());
        assert_eq!(limit.refused(), 2);
        limit.set(None);
        assert!(limit.admit("a", later).is_ok());
    }
}
