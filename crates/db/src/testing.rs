//! Test support: an isolated, migrated database per test, on SQLite (a temp file) or on
//! PostgreSQL (a fresh database) when `CRM_TEST_DATABASE_URL` is set.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::pool::{Db, DbError, PoolOptions};

/// A throwaway database; dropped (file removed, or database dropped) with the value.
pub struct TestDatabase {
    pub url: String,
    admin_url: Option<String>,
    name: Option<String>,
    _dir: Option<TempDir>,
}

/// A temporary directory removed on drop (kept tiny to avoid a dependency).
pub struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestDatabase {
    /// Which backend tests run on, from the environment.
    pub fn backend_url() -> Option<String> {
        std::env::var("CRM_TEST_DATABASE_URL").ok().filter(|s| !s.trim().is_empty())
    }

    /// Creates an empty database (not migrated).
    pub fn create() -> Result<TestDatabase, DbError> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        match Self::backend_url() {
            Some(admin_url) => {
                let name = format!("crm_test_{id}");
                let mut admin = PgConnection::establish(&admin_url).map_err(|e| DbError::Unavailable(e.to_string()))?;
                admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
                let url = replace_db_name(&admin_url, &name);
                Ok(TestDatabase { url, admin_url: Some(admin_url), name: Some(name), _dir: None })
            }
            None => {
                let dir = std::env::temp_dir().join(format!("crm-test-{id}"));
                std::fs::create_dir_all(&dir).map_err(|e| DbError::Unavailable(e.to_string()))?;
                let url = dir.join("crm.sqlite3").to_string_lossy().to_string();
                Ok(TestDatabase { url, admin_url: None, name: None, _dir: Some(TempDir(dir)) })
            }
        }
    }

    /// Creates and migrates a database, and opens a pool on it.
    pub fn migrated() -> Result<(TestDatabase, Db), DbError> {
        let t = Self::create()?;
        let db = Db::connect(&t.url, PoolOptions { max_size: 8, ..Default::default() })?;
        db.migrate()?;
        Ok((t, db))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let (Some(admin_url), Some(name)) = (&self.admin_url, &self.name)
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// `postgres://u@h:5432/old?x=y` with the database name replaced.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let root = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_name_is_replaced() {
        assert_eq!(replace_db_name("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(replace_db_name("postgres://u@h/test?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
        assert_eq!(replace_db_name("postgres://h", "x"), "postgres://h/x");
    }
}
