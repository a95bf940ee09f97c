//! Links the library crate, so its tasks are registered.
use boomer_linked_tasks as _;

boomer::main!();
