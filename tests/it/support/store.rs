//! The store a test's `triaged` runs on, either backend: a SQLite file in the test's directory, or a
//! schema of its own in the test PostgreSQL (`TRIAGED_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`), named `t_PID_N_RANDOM` like the library's store tests, so
//! that `scripts/postgres` drops it only once this process is gone. `both_stores!` turns one test
//! function into a test per backend. A PostgreSQL that cannot be reached fails the test, never skips it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context as _, Result, ensure};
use sqlx::Executor as _;

/// Which database a test's store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    #[default]
    Sqlite,
    Postgres,
}

/// The store of one test.
#[derive(Debug, Clone)]
pub struct TestStore {
    pub backend: Backend,
    /// `[store] url` as the test's config gives it.
    url: String,
    /// The schema, on PostgreSQL.
    pub schema: Option<String>,
    /// Where the SQLite file is (or, on PostgreSQL, would be had the config's store been ignored).
    sqlite_file: PathBuf,
}

/// The PostgreSQL the tests use.
pub fn pg_url() -> String {
    std::env::var("TRIAGED_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

impl TestStore {
    /// A fresh store for a test whose files live in `dir`: `dir/triaged.db`, or a new schema.
    pub async fn new(backend: Backend, dir: &Path) -> Result<TestStore> {
        match backend {
            Backend::Sqlite => Ok(TestStore {
                backend,
                url: format!("sqlite://{}", dir.join("triaged.db").display()),
                schema: None,
                sqlite_file: dir.join("triaged.db"),
            }),
            Backend::Postgres => {
                static COUNTER: AtomicU32 = AtomicU32::new(0);
                let schema = format!(
                    "t_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    rand::random::<u32>()
                );
                let base = pg_url();
                let pool = sqlx::PgPool::connect(&base).await.with_context(|| {
                    format!("PostgreSQL is not reachable at {base} (scripts/test starts it)")
                })?;
                pool.execute(format!("CREATE SCHEMA {schema}").as_str())
                    .await
                    .with_context(|| format!("create schema {schema}"))?;
                pool.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                Ok(TestStore {
                    backend,
                    url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                    schema: Some(schema),
                    sqlite_file: dir.join("triaged.db"),
                })
            }
        }
    }

    /// `[store] url` for the test's config.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Fails unless triaged kept its records on the backend the test asked for: a SQLite run has its
    /// file, a PostgreSQL run leaves none behind (the configs' default store is that same file) and its
    /// schema holds `table`.
    pub async fn assert_backend(&self, table: &str) -> Result<()> {
        let sqlite_file = self.sqlite_file.exists();
        ensure!(
            sqlite_file == (self.backend == Backend::Sqlite),
            "{:?} run, but a SQLite file exists: {sqlite_file}",
            self.backend
        );
        if let Some(schema) = &self.schema {
            let found: Vec<(String,)> = self
                .rows(&format!(
                    "SELECT table_schema::text FROM information_schema.tables \
                     WHERE table_schema = '{schema}' AND table_name = '{table}'"
                ))
                .await?;
            ensure!(found.len() == 1, "no {table} table in schema {schema}");
        }
        Ok(())
    }

    /// Opens the store with triaged's own code (for tests of what the outbox recorded).
    pub async fn open(&self) -> Result<triaged::store::Store> {
        triaged::store::Store::open(&self.url).await
    }

    /// Runs `sql` against the store with the test's own connection, each row read as `T` (a tuple of
    /// its columns): how worker tests read what triaged recorded without going through its code.
    pub async fn rows<T>(&self, sql: &str) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.url)
            .await
            .with_context(|| format!("open the {:?} test store", self.backend))?;
        let rows = sqlx::query_as::<_, T>(sql).fetch_all(&pool).await;
        pool.close().await;
        rows.with_context(|| format!("query the {:?} test store: {sql}", self.backend))
    }
}

/// `both_stores!(name);` after `async fn name(backend: Backend) -> Result<()>` makes the tests
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::it::support::Backend;

                #[tokio::test]
                async fn sqlite() -> anyhow::Result<()> {
                    super::$name(Backend::Sqlite).await
                }

                #[tokio::test]
                async fn postgres() -> anyhow::Result<()> {
                    super::$name(Backend::Postgres).await
                }
            }
        )*
    };
}
