//! The integration store: tokens and the tenant each is confirmed for, and each tenant's
//! event log (in `createdAt` order), uploads by `externalId`, the batches received and
//! whether the initial upload is done. The routes of the protocol are the handlers'
//! part (`super::super::integration`).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::feed::Entry;
use super::{State, lock, new_id};

/// Events per page of `/events` unless set otherwise.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest upload body accepted unless set otherwise, in bytes; a larger one gets
/// HTTP 413 whatever the number of comments in it.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 2_000_000;
/// The mock's integration data.
#[derive(Debug)]
pub(crate) struct Integrations {
    pub(crate) tokens: HashMap<String, TokenRecord>,
    pub(crate) tenants: HashMap<String, Log>,
    pub(crate) page_size: usize,
    /// The largest upload body accepted, in bytes.
    pub(crate) body_limit: usize,
}

impl Default for Integrations {
    fn default() -> Self {
        Integrations {
            tokens: HashMap::new(),
            tenants: HashMap::new(),
            page_size: DEFAULT_PAGE_SIZE,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct TokenRecord {
    pub(crate) tenant_id: Option<String>,
    pub(crate) skip_initial_sync: bool,
}

/// One tenant's integration side.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// In `createdAt` order, then in the order written.
    pub(crate) events: Vec<LoggedEvent>,
    /// Uploaded comments by `externalId`, with the id given (`_id`).
    pub(crate) uploads: BTreeMap<String, Value>,
    /// Every batch received: `(comments, countRemaining)`.
    pub(crate) batches: Vec<(usize, u64)>,
    pub(crate) upload_done: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct LoggedEvent {
    pub(crate) id: String,
    pub(crate) created_at: i64,
    pub(crate) url_id: String,
    pub(crate) data: String,
}

impl Log {
    /// Writes an event, keeping the log in `createdAt` order.
    pub(crate) fn push(&mut self, created_at: i64, url_id: &str, data: String) -> String {
        let id = new_id();
        let at = self.events.partition_point(|e| e.created_at <= created_at);
        self.events.insert(
            at,
            LoggedEvent {
                id: id.clone(),
                created_at,
                url_id: url_id.to_owned(),
                data,
            },
        );
        id
    }

    pub(crate) fn from(&self, from: i64) -> &[LoggedEvent] {
        &self.events[self.events.partition_point(|e| e.created_at < from)..]
    }
}

impl State {
    pub(crate) fn with_integrations<R>(&self, f: impl FnOnce(&mut Integrations) -> R) -> R {
        f(&mut lock(&self.integrations))
    }

    /// Confirms `token` for `tenant_id`, as a site admin does.
    pub(crate) fn confirm_integration(&self, token: &str, tenant_id: &str) {
        self.with_integrations(|i| {
            i.tokens.entry(token.to_owned()).or_default().tenant_id = Some(tenant_id.to_owned());
            i.tenants.entry(tenant_id.to_owned()).or_default();
        });
    }

    /// Writes an event into a tenant's log; returns its `_id`.
    pub(crate) fn push_integration_event(
        &self,
        tenant_id: &str,
        created_at: i64,
        data: String,
    ) -> String {
        self.with_integrations(|i| {
            let log = i.tenants.entry(tenant_id.to_owned()).or_default();
            log.push(created_at, "", data)
        })
    }

    /// The integration event log's consumer of the change feed: a tenant with a
    /// confirmed integration token logs every change, at the feed's time.
    pub(crate) fn log_integration_event(&self, tenant_id: &str, entry: &Entry) {
        self.with_integrations(|i| {
            if let Some(log) = i.tenants.get_mut(tenant_id) {
                log.push(entry.at_ms, &entry.url_id, entry.data.clone());
            }
        });
    }

    /// The comments uploaded to a tenant, by `externalId`.
    pub(crate) fn integration_uploads(&self, tenant_id: &str) -> Vec<Value> {
        self.with_integrations(|i| {
            i.tenants
                .get(tenant_id)
                .map(|l| l.uploads.values().cloned().collect())
                .unwrap_or_default()
        })
    }

    /// The batches a tenant received: `(comments, countRemaining)`.
    pub(crate) fn integration_batches(&self, tenant_id: &str) -> Vec<(usize, u64)> {
        self.with_integrations(|i| {
            i.tenants
                .get(tenant_id)
                .map(|l| l.batches.clone())
                .unwrap_or_default()
        })
    }

    pub(crate) fn set_integration_limits(
        &self,
        page_size: Option<usize>,
        body_limit: Option<usize>,
    ) {
        self.with_integrations(|i| {
            if let Some(n) = page_size {
                i.page_size = n.max(1);
            }
            if let Some(n) = body_limit {
                i.body_limit = n.max(1);
            }
        });
    }

    pub(crate) fn default_tenant(&self) -> String {
        self.tenant_ids()
            .into_iter()
            .min()
            .unwrap_or_else(|| "mock-tenant".to_owned())
    }
}
