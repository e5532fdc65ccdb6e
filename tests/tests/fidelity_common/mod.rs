//! The fidelity fixture: moto on loopback ([`moto::Moto`]), the same world built in moto
//! and in the local stack ([`world`]), SDK clients that keep each raw answer
//! ([`side::Side`]), and the field-by-field comparison with its allow-list ([`diff`]).

#![allow(dead_code)]

pub mod diff;
pub mod moto;
pub mod side;
pub mod world;
