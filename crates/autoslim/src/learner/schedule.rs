//! [`LrSchedule`]: the learning rate of every optimizer step — cosine annealing or MMRazor's
//! polynomial decay — as one burn `LrScheduler` whose state (the steps taken) is checkpointed.

use burn::lr_scheduler::LrScheduler;
use burn::optim::LearningRate;
use burn::tensor::backend::Backend;

/// The shape of the decay from the initial to the final learning rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decay {
    /// `min + (lr − min) · (1 + cos(π t/T)) / 2`.
    Cosine,
    /// `min + (lr − min) · (1 − t/T)^power` (MMRazor's `poly` policy; power 1 is linear).
    Poly {
        /// The exponent.
        power: f64,
    },
}

/// A learning rate per step, from `initial` at step 0 to `min` at step `total`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    decay: Decay,
    initial: LearningRate,
    min: LearningRate,
    total: usize,
    taken: usize,
}

impl LrSchedule {
    /// A schedule over `total` steps; `0 ≤ min < initial ≤ 1` and `total ≥ 1`.
    pub fn new(decay: Decay, initial: LearningRate, min: LearningRate, total: usize) -> Result<Self, String> {
        if !(initial > 0.0 && initial <= 1.0) {
            return Err(format!("the learning rate must be in (0, 1], got {initial}"));
        }
        if !(min >= 0.0 && min < initial) {
            return Err(format!("the final learning rate must be in [0, {initial}), got {min}"));
        }
        if total == 0 {
            return Err("a schedule needs at least one step".into());
        }
        if let Decay::Poly { power } = decay
            && !(power > 0.0 && power.is_finite())
        {
            return Err(format!("the poly power must be positive, got {power}"));
        }
        Ok(Self { decay, initial, min, total, taken: 0 })
    }

    /// The learning rate at step `t` (counted from 0; past the end, `min`).
    pub fn at(&self, t: usize) -> LearningRate {
        let progress = (t as f64 / self.total as f64).min(1.0);
        let factor = match self.decay {
            Decay::Cosine => 0.5 * (1.0 + (progress * std::f64::consts::PI).cos()),
            Decay::Poly { power } => (1.0 - progress).powf(power),
        };
        self.min + (self.initial - self.min) * factor
    }
}

impl LrScheduler for LrSchedule {
    /// The number of steps taken.
    type Record<B: Backend> = usize;

    fn step(&mut self) -> LearningRate {
        let lr = self.at(self.taken);
        self.taken += 1;
        lr
    }

    fn to_record<B: Backend>(&self) -> usize {
        self.taken
    }

    fn load_record<B: Backend>(mut self, taken: usize) -> Self {
        self.taken = taken;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    #[test]
    fn cosine_and_poly_decay_from_the_initial_to_the_final_rate() {
        let mut cosine = LrSchedule::new(Decay::Cosine, 0.4, 0.0, 4).unwrap();
        let lrs: Vec<f64> = (0..5).map(|_| cosine.step()).collect();
        let expected = [0.4, 0.2 * (1.0 + std::f64::consts::FRAC_1_SQRT_2), 0.2, 0.2 * (1.0 - std::f64::consts::FRAC_1_SQRT_2), 0.0];
        for (lr, e) in lrs.iter().zip(expected) {
            assert!((lr - e).abs() < 1e-12, "{lrs:?}");
        }
        let mut linear = LrSchedule::new(Decay::Poly { power: 1.0 }, 0.5, 0.1, 4).unwrap();
        let lrs: Vec<f64> = (0..6).map(|_| linear.step()).collect();
        for (lr, e) in lrs.iter().zip([0.5, 0.4, 0.3, 0.2, 0.1, 0.1]) {
            assert!((lr - e).abs() < 1e-12, "{lrs:?}");
        }
        let square = LrSchedule::new(Decay::Poly { power: 2.0 }, 1.0, 0.0, 2).unwrap();
        assert_eq!(square.at(1), 0.25);
    }

    #[test]
    fn a_reloaded_schedule_continues_where_it_stopped() {
        let mut run = LrSchedule::new(Decay::Cosine, 0.1, 0.001, 10).unwrap();
        for _ in 0..3 {
            run.step();
        }
        let record = run.to_record::<NdArray>();
        let mut resumed = LrSchedule::new(Decay::Cosine, 0.1, 0.001, 10).unwrap().load_record::<NdArray>(record);
        assert_eq!(resumed.step(), run.step());
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(LrSchedule::new(Decay::Cosine, 1.5, 0.0, 3).unwrap_err().contains("(0, 1]"));
        assert!(LrSchedule::new(Decay::Cosine, 0.1, 0.2, 3).unwrap_err().contains("final learning rate"));
        assert!(LrSchedule::new(Decay::Cosine, 0.1, 0.0, 0).unwrap_err().contains("at least one step"));
        assert!(LrSchedule::new(Decay::Poly { power: 0.0 }, 0.1, 0.0, 3).unwrap_err().contains("power"));
    }
}
