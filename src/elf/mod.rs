pub mod deps;
pub mod edit;
