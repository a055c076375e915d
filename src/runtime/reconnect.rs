//! The back-off policy between passes through the host list, with stomp.py's meaning and defaults.
//! Pure arithmetic: the caller passes the random number, so tests are exact.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconnectPolicy {
    /// Seconds before the first retry.
    pub sleep_initial: f64,
    /// Each retry waits `1 + sleep_increase` times the one before.
    pub sleep_increase: f64,
    /// Up to this fraction is added at random to each sleep.
    pub sleep_jitter: f64,
    /// Seconds no sleep exceeds (before jitter).
    pub sleep_max: f64,
    /// Passes through the host list before giving up; -1 is forever.
    pub attempts_max: i32,
}

impl Default for ReconnectPolicy {
    /// stomp.py's defaults.
    fn default() -> ReconnectPolicy {
        ReconnectPolicy {
            sleep_initial: 0.1,
            sleep_increase: 0.5,
            sleep_jitter: 0.1,
            sleep_max: 60.0,
            attempts_max: 3,
        }
    }
}

impl ReconnectPolicy {
    /// The Ruby stomp gem's (and MCollective's) pool settings expressed as this policy:
    /// `initial_reconnect_delay` -> sleep_initial; exponential back-off with `back_off_multiplier` m ->
    /// sleep_increase = m - 1 (no back-off: 0); `max_reconnect_delay` -> sleep_max; no jitter;
    /// `max_reconnect_attempts` 0 (forever) -> -1, n -> n.
    pub fn from_pool_settings(
        initial_reconnect_delay: f64,
        max_reconnect_delay: f64,
        use_exponential_back_off: bool,
        back_off_multiplier: f64,
        max_reconnect_attempts: u32,
    ) -> ReconnectPolicy {
        ReconnectPolicy {
            sleep_initial: initial_reconnect_delay,
            sleep_increase: if use_exponential_back_off {
                back_off_multiplier - 1.0
            } else {
                0.0
            },
            sleep_jitter: 0.0,
            sleep_max: max_reconnect_delay,
            attempts_max: if max_reconnect_attempts == 0 {
                -1
            } else {
                max_reconnect_attempts as i32
            },
        }
    }

    /// MCollective's documented pool defaults (those of the stomp gem 1.1.6).
    pub fn mcollective_defaults() -> ReconnectPolicy {
        ReconnectPolicy::from_pool_settings(0.01, 30.0, true, 2.0, 0)
    }

    pub fn validate(&self) -> Result<(), String> {
        let finite = [
            self.sleep_initial,
            self.sleep_increase,
            self.sleep_jitter,
            self.sleep_max,
        ];
        if finite.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return Err("reconnect sleeps must be finite and not negative".into());
        }
        if self.attempts_max == 0 || self.attempts_max < -1 {
            return Err("reconnect attempts must be at least 1, or -1 for forever".into());
        }
        Ok(())
    }

    /// Whether another pass may follow `passes_done` failed ones.
    /// Whether another pass may start after `attempts_failed` failed host attempts. As in stomp.py,
    /// `attempts_max` counts host attempts, checked between passes: a pass started is finished.
    pub fn may_retry(&self, attempts_failed: u32) -> bool {
        self.attempts_max == -1 || (attempts_failed as i64) < self.attempts_max as i64
    }

    /// The sleep after the `pass`-th failed pass (1-based); `random` in [0, 1).
    pub fn sleep(&self, pass: u32, random: f64) -> Duration {
        let exp = pass.saturating_sub(1).min(1000) as i32;
        let base = (self.sleep_initial * (1.0 + self.sleep_increase).powi(exp)).min(self.sleep_max);
        let secs = base * (1.0 + self.sleep_jitter * random.clamp(0.0, 1.0));
        Duration::from_secs_f64(if secs.is_finite() {
            secs.min(86_400.0)
        } else {
            self.sleep_max
        })
    }
}

/// What to do next while walking the host list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Try the target with this index in the current pass.
    Dial(usize),
    /// A pass failed: sleep, then start a new pass (call `start_pass`).
    Sleep(Duration),
    /// The attempt limit is reached.
    GiveUp,
}

/// The host-list walk as a plan, without sockets or clocks: which target to try next, how long to
/// sleep after a failed pass, when to give up. The driver calls `next` after each failure.
#[derive(Debug, Clone)]
pub struct Planner {
    policy: ReconnectPolicy,
    targets: usize,
    next: usize,
    passes_failed: u32,
    attempts_failed: u32,
    /// A target was handed out and has not been reported yet (the next call reports its failure).
    dialling: bool,
}

impl Planner {
    pub fn new(policy: ReconnectPolicy, targets: usize) -> Planner {
        Planner {
            policy,
            targets,
            next: 0,
            passes_failed: 0,
            attempts_failed: 0,
            dialling: false,
        }
    }

    /// A new pass over `targets` targets (names are resolved again for each pass).
    pub fn start_pass(&mut self, targets: usize) {
        self.targets = targets;
        self.next = 0;
    }

    pub fn passes_failed(&self) -> u32 {
        self.passes_failed
    }

    pub fn attempts_failed(&self) -> u32 {
        self.attempts_failed
    }

    /// The next step; `random` in [0, 1) is the jitter draw for a sleep.
    pub fn next(&mut self, random: f64) -> Step {
        if std::mem::take(&mut self.dialling) {
            self.attempts_failed += 1;
        }
        if self.next < self.targets {
            self.next += 1;
            self.dialling = true;
            return Step::Dial(self.next - 1);
        }
        self.passes_failed += 1;
        if self.targets == 0 {
            self.attempts_failed += 1; // nothing to dial (no name resolved): the pass is one failure
        }
        if self.policy.may_retry(self.attempts_failed) {
            Step::Sleep(self.policy.sleep(self.passes_failed, random))
        } else {
            Step::GiveUp
        }
    }

    /// The index of the target dialled last.
    pub fn current(&self) -> Option<usize> {
        self.next.checked_sub(1)
    }
}

/// A small xorshift generator for jitter and host shuffling (no crate needed for this).
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        Jitter(seed | 1)
    }

    pub fn from_entropy() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7);
        Jitter::new(t ^ (uuid::Uuid::new_v4().as_u128() as u64))
    }

    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_f64() * (i + 1) as f64) as usize;
            items.swap(i, j.min(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn stomp_py_defaults_without_jitter() {
        let p = ReconnectPolicy::default();
        let got: Vec<u128> = (1..=5).map(|k| ms(p.sleep(k, 0.0))).collect();
        assert_eq!(got, [100, 150, 225, 337, 506]);
        // With the largest jitter draw, 10% more.
        assert_eq!(ms(p.sleep(1, 0.999_999)), 109);
        assert!(p.may_retry(2) && !p.may_retry(3));
    }

    #[test]
    fn sleeps_are_capped() {
        let p = ReconnectPolicy::default();
        assert_eq!(ms(p.sleep(40, 0.0)), 60_000);
        assert_eq!(ms(p.sleep(u32::MAX, 0.0)), 60_000);
    }

    #[test]
    fn mcollective_pool_defaults() {
        let p = ReconnectPolicy::mcollective_defaults();
        let got: Vec<u128> = (1..=13).map(|k| ms(p.sleep(k, 0.5))).collect();
        assert_eq!(
            got,
            [
                10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 20480, 30000
            ]
        );
        assert!(p.may_retry(1_000_000), "0 attempts means forever");
        let flat = ReconnectPolicy::from_pool_settings(0.5, 30.0, false, 2.0, 4);
        assert_eq!(ms(flat.sleep(7, 0.3)), 500);
        assert!(flat.may_retry(3) && !flat.may_retry(4));
    }

    /// Runs a planner with every dial failing, recording steps; time is simulated by adding sleeps.
    fn walk(
        policy: ReconnectPolicy,
        hosts: usize,
        random: f64,
        max_steps: usize,
    ) -> (Vec<String>, Duration) {
        let mut p = Planner::new(policy, hosts);
        let mut clock = Duration::ZERO;
        let mut steps = Vec::new();
        for _ in 0..max_steps {
            match p.next(random) {
                Step::Dial(i) => steps.push(format!("dial {i}")),
                Step::Sleep(d) => {
                    steps.push(format!("sleep {}", d.as_millis()));
                    clock += d;
                    p.start_pass(hosts);
                }
                Step::GiveUp => {
                    steps.push("give up".into());
                    break;
                }
            }
        }
        (steps, clock)
    }

    #[test]
    fn host_rotation_and_sleeps_with_stomp_py_defaults() {
        let (steps, clock) = walk(ReconnectPolicy::default(), 2, 0.0, 100);
        assert_eq!(
            steps,
            [
                "dial 0",
                "dial 1",
                "sleep 100",
                "dial 0",
                "dial 1",
                "give up"
            ]
        );
        // stomp.py counts failed host attempts (3), checked between passes: 2, then 4.
        assert_eq!(clock, Duration::from_millis(100));
        // Full jitter draw: each sleep 10% longer.
        let (steps, _) = walk(ReconnectPolicy::default(), 1, 0.999_999_9, 100);
        assert_eq!(
            steps,
            [
                "dial 0",
                "sleep 109",
                "dial 0",
                "sleep 164",
                "dial 0",
                "give up"
            ]
        );
    }

    #[test]
    fn host_rotation_and_sleeps_with_mcollective_pool_defaults() {
        let (steps, clock) = walk(ReconnectPolicy::mcollective_defaults(), 2, 0.7, 3 * 16);
        let sleeps: Vec<&str> = steps
            .iter()
            .filter(|s| s.starts_with("sleep"))
            .map(String::as_str)
            .collect();
        assert_eq!(
            sleeps,
            [
                "sleep 10",
                "sleep 20",
                "sleep 40",
                "sleep 80",
                "sleep 160",
                "sleep 320",
                "sleep 640",
                "sleep 1280",
                "sleep 2560",
                "sleep 5120",
                "sleep 10240",
                "sleep 20480",
                "sleep 30000",
                "sleep 30000",
                "sleep 30000",
                "sleep 30000"
            ]
        );
        assert!(
            !steps.contains(&"give up".to_string()),
            "0 attempts is forever"
        );
        assert_eq!(&steps[..3], ["dial 0", "dial 1", "sleep 10"]);
        assert_eq!(
            clock,
            Duration::from_millis(
                10 + 20
                    + 40
                    + 80
                    + 160
                    + 320
                    + 640
                    + 1280
                    + 2560
                    + 5120
                    + 10240
                    + 20480
                    + 4 * 30000
            )
        );
    }

    #[test]
    fn a_pass_with_no_targets_still_counts() {
        let p = ReconnectPolicy {
            attempts_max: 2,
            sleep_jitter: 0.0,
            ..ReconnectPolicy::default()
        };
        let (steps, _) = walk(p, 0, 0.0, 10);
        assert_eq!(steps, ["sleep 100", "give up"]);
    }

    #[test]
    fn validation() {
        assert!(ReconnectPolicy::default().validate().is_ok());
        assert!(
            ReconnectPolicy {
                attempts_max: 0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            ReconnectPolicy {
                sleep_initial: f64::NAN,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            ReconnectPolicy {
                sleep_jitter: -1.0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn jitter_is_in_range_and_shuffle_permutes() {
        let mut j = Jitter::new(42);
        for _ in 0..1000 {
            let x = j.next_f64();
            assert!((0.0..1.0).contains(&x));
        }
        let mut v: Vec<u32> = (0..10).collect();
        j.shuffle(&mut v);
        let mut s = v.clone();
        s.sort();
        assert_eq!(s, (0..10).collect::<Vec<_>>());
    }
}
