//! State transfer engine.
