//! Resolution (placeholder until the resolver lands).
