//! The FIS engine: action catalog, templates, target resolution and experiments.

pub mod catalog;
pub mod engine;
pub mod resolve;
pub mod template;

pub use engine::{Fis, FisError};
