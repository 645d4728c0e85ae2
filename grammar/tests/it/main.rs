//! Integration tests of the network language.

mod generators;
mod properties;
