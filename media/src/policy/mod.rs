//! The buffer policy.
