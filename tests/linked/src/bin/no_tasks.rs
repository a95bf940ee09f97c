//! Does not link the library crate: no task is registered, and the worker says how to fix it.
boomer::main!();
