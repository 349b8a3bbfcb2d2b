//! Package index client (placeholder).
