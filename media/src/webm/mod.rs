//! WebM (Matroska) reading.
