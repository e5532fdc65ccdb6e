//! The FIS engine: action catalog, templates, target resolution and experiments.

mod automation;
pub mod catalog;
pub mod engine;
pub mod resolve;
mod run;
pub mod template;
pub mod view;

pub use engine::{Fis, FisError};
