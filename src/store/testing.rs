//! Test support: a fresh store on each backend, isolated per test so tests run in parallel.
//!
//! SQLite gets a file in a temp dir; PostgreSQL gets its own schema in the test database named by
//! `TRIAGED_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`). A PostgreSQL that is not
//! reachable is a test failure naming the URL, never a skip.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result};

use super::Store;

/// The PostgreSQL the tests use.
pub(crate) fn pg_url() -> String {
    std::env::var("TRIAGED_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A migrated SQLite store in a temp dir that lives as long as the returned guard.
pub(crate) async fn sqlite() -> Result<(tempfile::TempDir, Store)> {
    let dir = tempfile::tempdir().context("create temp dir")?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let store = Store::open(&url).await?;
    store.migrate().await?;
    Ok((dir, store))
}

/// A migrated PostgreSQL store in a schema of its own.
pub(crate) async fn postgres() -> Result<Store> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    let base = pg_url();
    let admin = Store::open(&base).await.with_context(|| {
        format!(
            "PostgreSQL is not reachable at {base} (the test script starts it; set TRIAGED_TEST_PG)"
        )
    })?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(admin.pool())
        .await
        .context("create test schema")?;
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let store = Store::open(&format!("{base}{sep}options=-c%20search_path%3D{schema}")).await?;
    store.migrate().await?;
    Ok(store)
}

/// Runs one async check against a fresh store on both backends: `backend_tests!(check_a, check_b);`
/// generates `sqlite::check_a`, `postgres::check_a`, ... as tokio tests.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() -> anyhow::Result<()> {
                    let (_dir, store) = $crate::store::testing::sqlite().await?;
                    super::$name(store).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() -> anyhow::Result<()> {
                    let store = $crate::store::testing::postgres().await?;
                    super::$name(store).await
                }
            )*
        }
    };
}
pub(crate) use backend_tests;
