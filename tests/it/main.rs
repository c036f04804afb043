//! The integration tests, one binary: the client against the mock server and against
//! hostile servers on loopback.

mod client;
mod common;
mod every_operation;
mod failures;
mod hostile;
mod integration;
mod live;
mod live_hostile;
mod mock_flows;
mod mock_live;
mod mock_robustness;
mod mock_server;
mod mock_truth;
mod msrv;
mod pagination;
mod reachability;
mod retry;
mod sql;
mod sql_hostile;
mod sso;
mod stored_truth;
mod unknown_enums;
mod webhook;
