//! SeaORM entities: one module per table that repositories read or write.
//! Entities are an implementation detail of this crate's repositories;
//! callers get the domain types the repositories return.

pub mod api_tokens;
pub mod system_tokens;
pub mod tenants;
