//! requirements.txt input (placeholder).
