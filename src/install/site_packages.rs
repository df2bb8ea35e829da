//! See the module owner; being written.
