//! Testsuite harness.
