//! Fragmented MP4 (ISO BMFF) reading.
