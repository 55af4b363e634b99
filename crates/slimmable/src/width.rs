//! From a width ratio to a channel count.

use crate::SlimError;

/// Rounds `value` to the nearest multiple of `divisor`, never below `min_value` (default
/// `divisor`) and never more than 10% below `value` — the `make_divisible` of MobileNet and
/// MMRazor 1.x. Aligned channel counts are faster on GPUs.
pub fn make_divisible(value: f64, divisor: usize, min_value: Option<usize>) -> usize {
    let divisor = divisor.max(1);
    let min_value = min_value.unwrap_or(divisor);
    let d = divisor as f64;
    let mut rounded = (((value + d / 2.0) / d).floor() as usize * divisor).max(min_value);
    if (rounded as f64) < 0.9 * value {
        rounded += divisor;
    }
    rounded
}

/// The number of channels kept out of `max_channels` at width `ratio`.
///
/// Without a divisor this is `round(max_channels · ratio)` with ties to even, as Python's
/// `round` in MMRazor 0.x. With `Some(d)` the count is made divisible by `d`
/// ([`make_divisible`]) and capped at `max_channels`.
///
/// # Errors
/// A ratio outside (0, 1] (or not finite), or a ratio that leaves no channels.
pub fn channels_for_ratio(max_channels: usize, ratio: f64, divisor: Option<usize>) -> Result<usize, SlimError> {
    if !(ratio.is_finite() && ratio > 0.0 && ratio <= 1.0) {
        return Err(SlimError::RatioOutOfRange { ratio });
    }
    let exact = max_channels as f64 * ratio;
    let channels = match divisor {
        None => exact.round_ties_even() as usize,
        Some(d) => make_divisible(exact, d, None).min(max_channels),
    };
    if channels == 0 {
        return Err(SlimError::ZeroWidth { what: "channels (the ratio rounds to nothing)" });
    }
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_prefix_counts_follow_python_rounding() {
        assert_eq!(channels_for_ratio(48, 2.0 / 12.0, None), Ok(8));
        assert_eq!(channels_for_ratio(32, 2.0 / 12.0, None), Ok(5)); // 5.33
        assert_eq!(channels_for_ratio(5, 0.5, None), Ok(2)); // 2.5 -> 2 (ties to even)
        assert_eq!(channels_for_ratio(7, 0.5, None), Ok(4)); // 3.5 -> 4
        assert_eq!(channels_for_ratio(64, 1.0, None), Ok(64));
    }

    #[test]
    fn divisor_aligns_and_caps() {
        assert_eq!(channels_for_ratio(64, 2.0 / 12.0, Some(8)), Ok(16)); // 10.67 -> 8 is >10% down -> 16
        assert_eq!(channels_for_ratio(96, 2.0 / 12.0, Some(8)), Ok(16));
        assert_eq!(channels_for_ratio(64, 0.75, Some(8)), Ok(48));
        assert_eq!(channels_for_ratio(10, 1.0, Some(8)), Ok(10)); // 16 capped at 10
        assert_eq!(make_divisible(32.0 * 1.5, 8, None), 48);
        assert_eq!(make_divisible(3.0, 8, None), 8);
    }

    #[test]
    fn bad_ratios_are_errors() {
        for ratio in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            let err = channels_for_ratio(16, ratio, None).unwrap_err();
            assert!(err.to_string().contains("outside (0, 1]"), "{err}");
        }
        let err = channels_for_ratio(2, 0.1, None).unwrap_err();
        assert!(err.to_string().contains("no channels"), "{err}");
    }
}
