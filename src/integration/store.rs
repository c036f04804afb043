//! The integration's own settings (token, validated flag, tenant id, how far setup got)
//! and the lease that keeps two runners from syncing one site at once.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::error::BoxError;
use super::token::Token;

/// What the integration remembers between runs. `Debug` hides the token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct IntegrationState {
    /// The token, once made or given.
    pub token: Option<Token>,
    /// Whether a site admin confirmed it.
    pub validated: bool,
    /// The tenant it belongs to, once validated.
    pub tenant_id: Option<String>,
    /// Whether the server said setup is complete (`SetSetupCompleted`).
    pub setup_completed: bool,
    /// Whether the server said the initial sync is done (`SetSyncDone`).
    pub sync_done: bool,
    /// Whether the last upload ended with `countRemaining: 0`: a later `SendComments`
    /// is a re-sync and starts over.
    pub upload_complete: bool,
    /// Whether an upload began and has not ended: it is resumed at the next tick even
    /// without a new `SendComments` (the server stops asking once it was told
    /// `countRemaining: 0`, even when the reply that recorded it was lost).
    pub upload_in_progress: bool,
}

/// A fencing token: a number that grows with every new holder of a site's lease.
///
/// Taking a lease ([`StateStore::acquire_lease`]) returns the fence; renewing it keeps
/// the same fence; every write that matters carries it ([`StateStore::save`],
/// [`Site::apply`](super::Site::apply), [`Site::record_upload`](super::Site::record_upload),
/// [`DownloadSite::store_download`](super::DownloadSite::store_download) and the skips).
/// A store refuses a write whose fence is not the current one (a SQL store in the
/// write's own transaction); a site kept elsewhere stores the highest fence it has seen
/// and refuses lower ones. Either way it answers [`StaleFence`], and the runner stops.
///
/// Why it is needed: a lease is a promise about time, and a runner cannot keep a promise
/// about time while it is paused (a GC pause, a VM migration, a debugger). A runner
/// paused past its lease's expiry wakes up believing it still holds it; meanwhile a
/// second runner took the lease, with a higher fence, and wrote. The first runner's
/// next write carries the lower fence and is refused where it lands, so it writes
/// nothing and stops; the second runner's writes are the only ones after the takeover.
/// The check sits in the write itself, not before it, so no pause between the check
/// and the write can reopen the window.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fence(pub u64);

impl std::fmt::Display for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A write refused because its [`Fence`] is not the current one: the lease it was made
/// under was taken over by another runner since. Stores and sites return it (boxed);
/// the integration turns it into [`Error::Fenced`](super::Error::Fenced) and stops.
///
/// ```
/// use fastcomments::integration::{BoxError, Fence, StaleFence};
/// let error: BoxError = StaleFence { fence: Fence(3), current: Fence(4) }.into();
/// assert!(StaleFence::find(&*error).is_some());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("write refused: fence {fence} is stale, the lease is at fence {current}")]
pub struct StaleFence {
    /// The fence the write carried.
    pub fence: Fence,
    /// The current (higher) fence.
    pub current: Fence,
}

impl StaleFence {
    /// The [`StaleFence`] in `error` or down its `source()` chain.
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a StaleFence> {
        let mut next = Some(error);
        while let Some(error) = next {
            if let Some(stale) = error.downcast_ref::<StaleFence>() {
                return Some(stale);
            }
            next = error.source();
        }
        None
    }

    /// `Ok` when `fence` may write where `current` is the fence on record.
    pub fn check(fence: Fence, current: Fence) -> Result<(), StaleFence> {
        if fence == current {
            Ok(())
        } else {
            Err(StaleFence { fence, current })
        }
    }
}

/// Who may sync the site until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// The runner holding it.
    pub owner: String,
    /// Until when, in epoch milliseconds, by the store's clock: the runner's wall clock
    /// for [`MemoryStore`] and [`FileStore`], the database's for the SQL stores.
    pub until_ms: i64,
    /// The fence its holder writes with.
    #[serde(default)]
    pub fence: Fence,
}

/// What [`StateStore::acquire_lease`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The lease is the caller's (taken, or renewed with the same fence).
    Taken(Fence),
    /// Another runner holds it and it has not expired.
    Held(Lease),
}

/// Where the integration keeps its [`IntegrationState`] and [`Lease`]. Provided:
/// [`MemoryStore`] and [`FileStore`]; a plugin may keep them in its own settings table.
pub trait StateStore: Send + Sync {
    /// The stored state ([`IntegrationState::default`] when there is none).
    fn load(&self) -> impl Future<Output = Result<IntegrationState, BoxError>> + Send;

    /// Replaces the stored state (not the lease), atomically: a crash leaves the old
    /// state or the new one. Refused with [`StaleFence`] unless `fence` is the current
    /// one (the last one [`acquire_lease`](StateStore::acquire_lease) gave), checked in
    /// the same atomic step as the write.
    fn save(
        &self,
        state: &IntegrationState,
        fence: Fence,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Takes the lease for `owner` for `ttl_ms`, or renews it, unless another owner
    /// holds one that has not expired; returns that holder then. "Now" is the store's
    /// clock: `now_ms` (the runner's wall clock) for stores without one, the
    /// database's own for the SQL stores, which ignore `now_ms`. A new holder gets a
    /// higher [`Fence`] than every holder before it; a renewal (the same owner, before
    /// the lease expired) keeps its fence. The same owner after the lease expired is a
    /// new holder: two runners given one owner name (a restart while the old process
    /// is paused) never share a fence. Atomic against every other runner using the
    /// same store.
    fn acquire_lease(
        &self,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> impl Future<Output = Result<LeaseOutcome, BoxError>> + Send;

    /// Gives the lease up, if `owner` holds it under `fence` (a runner fenced out never
    /// frees the lease of the holder that replaced it, even under the same owner name).
    fn release_lease(
        &self,
        owner: &str,
        fence: Fence,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// What a store holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Stored {
    state: IntegrationState,
    lease: Option<Lease>,
    /// The last fence given (kept when the lease is released).
    #[serde(default)]
    fence: Fence,
}

impl Stored {
    fn acquire(&mut self, owner: &str, now_ms: i64, ttl_ms: i64) -> LeaseOutcome {
        let until_ms = now_ms.saturating_add(ttl_ms);
        match &self.lease {
            Some(held) if held.owner != owner && held.until_ms > now_ms => {
                LeaseOutcome::Held(held.clone())
            }
            held => {
                // The same owner renews with its fence while the lease lasts; anyone
                // else, or the same owner after it expired (a paused runner's lease may
                // have been taken in between by a restarted one of the same name), is
                // a new holder.
                if held
                    .as_ref()
                    .is_none_or(|l| l.owner != owner || l.until_ms <= now_ms)
                {
                    self.fence = Fence(self.fence.0 + 1);
                }
                self.lease = Some(Lease {
                    owner: owner.to_owned(),
                    until_ms,
                    fence: self.fence,
                });
                LeaseOutcome::Taken(self.fence)
            }
        }
    }

    fn save(&mut self, state: IntegrationState, fence: Fence) -> Result<(), StaleFence> {
        StaleFence::check(fence, self.fence)?;
        self.state = state;
        Ok(())
    }

    fn release(&mut self, owner: &str, fence: Fence) {
        if self
            .lease
            .as_ref()
            .is_some_and(|l| l.owner == owner && l.fence == fence)
        {
            self.lease = None;
        }
    }
}

/// A [`StateStore`] in memory: for tests, and for runners that keep nothing between
/// processes. Clones share one store.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore(Arc<Mutex<Stored>>);

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Stored) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl StateStore for MemoryStore {
    async fn load(&self) -> Result<IntegrationState, BoxError> {
        Ok(self.with(|s| s.state.clone()))
    }

    async fn save(&self, state: &IntegrationState, fence: Fence) -> Result<(), BoxError> {
        Ok(self.with(|s| s.save(state.clone(), fence))?)
    }

    async fn acquire_lease(
        &self,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<LeaseOutcome, BoxError> {
        Ok(self.with(|s| s.acquire(owner, now_ms, ttl_ms)))
    }

    async fn release_lease(&self, owner: &str, fence: Fence) -> Result<(), BoxError> {
        self.with(|s| s.release(owner, fence));
        Ok(())
    }
}

/// A [`StateStore`] in one JSON file, safe against crashes and against other processes:
/// every write goes to a temporary file in the same directory, is flushed to disk, then
/// renamed over the old one (a crash leaves the old file or the new, never a torn one),
/// and every read-modify-write holds an exclusive lock on a `.lock` file beside it. The
/// file holds the token: on Unix it is created readable by its owner only.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use fastcomments::integration::{FileStore, StateStore};
/// let store = FileStore::new("/var/lib/my-forum/fastcomments.json");
/// let state = store.load().await?;
/// println!("validated: {}", state.validated);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileStore {
    path: Arc<Path>,
}

impl FileStore {
    /// A store in the file at `path` (created on the first write).
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        FileStore {
            path: Arc::from(path.into()),
        }
    }

    /// Runs `f` on the stored data under the lock, off the async threads; writes it back
    /// when `f` says it changed.
    async fn update<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Stored) -> (R, bool) + Send + 'static,
    ) -> Result<R, BoxError> {
        let path = self.path.clone();
        let work = move || -> Result<R, BoxError> {
            let lock = lock_file(&path)?;
            lock.lock()?;
            let mut stored = read(&path)?;
            let (result, changed) = f(&mut stored);
            if changed {
                write_atomically(&path, &serde_json::to_vec_pretty(&stored)?)?;
            }
            lock.unlock()?;
            Ok(result)
        };
        tokio::task::spawn_blocking(work).await?
    }
}

fn lock_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(name))
}

fn read(path: &Path) -> Result<Stored, BoxError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not an integration state: {e}", path.display()))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Stored::default()),
        Err(e) => Err(e.into()),
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old content or the new.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".tmp-{:016x}", fastrand::u64(..)));
    let temp = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

impl StateStore for FileStore {
    async fn load(&self) -> Result<IntegrationState, BoxError> {
        self.update(|s| (s.state.clone(), false)).await
    }

    async fn save(&self, state: &IntegrationState, fence: Fence) -> Result<(), BoxError> {
        let state = state.clone();
        let saved = self
            .update(move |s| {
                let saved = s.save(state, fence);
                let changed = saved.is_ok();
                (saved, changed)
            })
            .await?;
        Ok(saved?)
    }

    async fn acquire_lease(
        &self,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<LeaseOutcome, BoxError> {
        let owner = owner.to_owned();
        self.update(move |s| {
            let outcome = s.acquire(&owner, now_ms, ttl_ms);
            let changed = matches!(outcome, LeaseOutcome::Taken(_));
            (outcome, changed)
        })
        .await
    }

    async fn release_lease(&self, owner: &str, fence: Fence) -> Result<(), BoxError> {
        let owner = owner.to_owned();
        self.update(move |s| {
            s.release(&owner, fence);
            ((), true)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "fc-store-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[tokio::test]
    async fn the_file_store_keeps_state_and_lease_apart_and_leaves_no_temp_file() {
        let path = temp_path("state.json");
        let store = FileStore::new(&path);
        assert_eq!(store.load().await.unwrap(), IntegrationState::default());
        let state = IntegrationState {
            token: Some(Token::new("t-1")),
            validated: true,
            tenant_id: Some("tenant".into()),
            ..IntegrationState::default()
        };
        let fence = match store.acquire_lease("a", 0, 100).await.unwrap() {
            LeaseOutcome::Taken(fence) => fence,
            held => panic!("{held:?}"),
        };
        store.save(&state, fence).await.unwrap();
        assert_eq!(FileStore::new(&path).load().await.unwrap(), state);
        let held = store.acquire_lease("b", 50, 100).await.unwrap();
        assert_eq!(
            held,
            LeaseOutcome::Held(Lease {
                owner: "a".into(),
                until_ms: 100,
                fence,
            })
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the state file holds the token: {mode:o}");
        }
    }

    #[tokio::test]
    async fn a_torn_or_foreign_file_is_an_error_not_a_fresh_state() {
        let path = temp_path("state.json");
        std::fs::write(&path, b"{\"state\": {\"valid").unwrap();
        let error = FileStore::new(&path).load().await.unwrap_err();
        assert!(
            error.to_string().contains("not an integration state"),
            "{error}"
        );
    }

    fn taken(outcome: LeaseOutcome) -> Fence {
        match outcome {
            LeaseOutcome::Taken(fence) => fence,
            held => panic!("expected the lease, got {held:?}"),
        }
    }

    #[tokio::test]
    async fn a_lease_is_refused_to_another_owner_until_it_expires() {
        let store = MemoryStore::new();
        let a = taken(store.acquire_lease("a", 0, 100).await.unwrap());
        assert_eq!(
            taken(store.acquire_lease("a", 10, 190).await.unwrap()),
            a,
            "renewed with its fence"
        );
        assert!(matches!(
            store.acquire_lease("b", 150, 150).await.unwrap(),
            LeaseOutcome::Held(Lease { until_ms: 200, .. })
        ));
        let b = taken(store.acquire_lease("b", 200, 100).await.unwrap());
        assert!(b > a, "a new holder gets a higher fence");
        store.release_lease("a", a).await.unwrap();
        assert!(
            matches!(
                store.acquire_lease("a", 210, 90).await.unwrap(),
                LeaseOutcome::Held(_)
            ),
            "b still holds it"
        );
        store.release_lease("b", b).await.unwrap();
        let again = taken(store.acquire_lease("a", 210, 90).await.unwrap());
        assert!(again > b, "a released fence is never given again");
    }

    #[tokio::test]
    async fn a_save_under_a_stale_fence_is_refused_and_changes_nothing() {
        let path = temp_path("fenced.json");
        let file = FileStore::new(&path);
        let memory = MemoryStore::new();
        let first = IntegrationState {
            tenant_id: Some("first".into()),
            ..IntegrationState::default()
        };
        let late = IntegrationState {
            tenant_id: Some("late".into()),
            ..IntegrationState::default()
        };
        let a = taken(file.acquire_lease("a", 0, 100).await.unwrap());
        let b = taken(file.acquire_lease("b", 100, 100).await.unwrap());
        file.save(&first, b).await.unwrap();
        let error = file.save(&late, a).await.unwrap_err();
        assert_eq!(
            StaleFence::find(&*error),
            Some(&StaleFence {
                fence: a,
                current: b
            })
        );
        assert_eq!(file.load().await.unwrap(), first);

        let a = taken(memory.acquire_lease("a", 0, 100).await.unwrap());
        let b = taken(memory.acquire_lease("b", 100, 100).await.unwrap());
        memory.save(&first, b).await.unwrap();
        assert!(memory.save(&late, a).await.is_err());
        assert_eq!(memory.load().await.unwrap(), first);
    }
}
