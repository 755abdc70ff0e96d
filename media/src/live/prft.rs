//! `prft` (producer reference time, ISO 14496-12 §8.16.5): the wall-clock
//! time, as NTP, at which the media time of the next fragment was made —
//! what a viewer's latency is measured from.

use crate::mp4::boxes::Child;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_TO_UNIX_SECONDS: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp as Unix milliseconds; `None` before 1970.
pub fn ntp_to_unix_ms(ntp: u64) -> Option<u64> {
    let seconds = (ntp >> 32).checked_sub(NTP_TO_UNIX_SECONDS)?;
    let fraction_ms = ((ntp & 0xFFFF_FFFF) * 1000) >> 32;
    Some(seconds * 1000 + fraction_ms)
}

/// The Unix milliseconds a `prft` names; `None` when it is malformed.
pub fn read(prft: &Child<'_>) -> Option<u64> {
    // version (1), flags (3), reference_track_ID (4), ntp_timestamp (8).
    let ntp = prft.payload.get(8..16)?;
    ntp_to_unix_ms(u64::from_be_bytes(ntp.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_seconds_and_fraction_become_unix_milliseconds() {
        let ntp = (NTP_TO_UNIX_SECONDS + 1_700_000_000) << 32 | (1 << 31);
        assert_eq!(ntp_to_unix_ms(ntp), Some(1_700_000_000_500));
        assert_eq!(ntp_to_unix_ms(5 << 32), None);
    }
}
