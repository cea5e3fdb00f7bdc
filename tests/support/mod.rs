//! Shared helpers for integration tests.
#![allow(dead_code)]

pub mod binary;
pub mod cdp;
pub mod freshdesk_stand_in;
pub mod freshworks_client;
pub mod openai_stand_in;
pub mod postgres;
