//! End-to-end tests for drdrill live in `tests/tests/`; this crate has no library code.
