//! Where the database is: a `DATABASE_URL` (URL or libpq `key=value` form), or libpq's
//! `PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD` variables as the reference
//! AWS stack writes them; the password may come from a file instead (a systemd
//! credential), so that no character of it needs escaping.

use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What went wrong assembling the database settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `DATABASE_URL` could not be parsed; the message never repeats the URL (it may hold a
    /// password).
    #[error("DATABASE_URL is not a PostgreSQL connection string: {0}")]
    BadUrl(#[source] tokio_postgres::Error),
    /// `PGPORT` is not a port number.
    #[error("PGPORT is not a port number: {0:?}")]
    BadPort(String),
    /// The password file could not be read.
    #[error("cannot read the database password file {path}: {source}")]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Neither `DATABASE_URL` nor `PGHOST` says where the database is.
    #[error("no database configured: set DATABASE_URL (or --database-url), or PGHOST and PGUSER")]
    Missing,
}

/// Builds the connection settings from `database_url` when given, else from the libpq
/// variables that `env` looks up (`PGHOST` is required then; `PGPORT` defaults to 5432,
/// `PGDATABASE` to the user name).
pub fn database_config(
    database_url: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<tokio_postgres::Config, ConfigError> {
    let mut config = match database_url.filter(|u| !u.trim().is_empty()) {
        Some(url) => tokio_postgres::Config::from_str(url).map_err(ConfigError::BadUrl)?,
        None => {
            let host = env("PGHOST").filter(|h| !h.is_empty()).ok_or(ConfigError::Missing)?;
            let mut config = tokio_postgres::Config::new();
            config.host(host);
            let port = match env("PGPORT").filter(|p| !p.is_empty()) {
                Some(p) => p.parse::<u16>().map_err(|_| ConfigError::BadPort(p))?,
                None => 5432,
            };
            config.port(port);
            let user = env("PGUSER").filter(|u| !u.is_empty());
            if let Some(user) = &user {
                config.user(user);
            }
            if let Some(db) = env("PGDATABASE").filter(|d| !d.is_empty()).or(user) {
                config.dbname(db);
            }
            if let Some(password) = env("PGPASSWORD") {
                config.password(password);
            }
            config
        }
    };
    if config.get_application_name().is_none() {
        config.application_name("drdrill-demo-app");
    }
    Ok(config)
}

/// The password in `path`: its whole content less one trailing newline (as `echo` or
/// `jq -r` leave it).
pub fn read_password_file(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::PasswordFile {
        path: path.to_path_buf(),
        source,
    })?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    /// A URL wins over the PG variables and keeps its host, port, user and database.
    #[test]
    fn url_wins_over_pg_variables() {
        let c = database_config(
            Some("postgres://app:secret@127.0.0.1:55432/items"),
            env(&[("PGHOST", "elsewhere"), ("PGPORT", "1")]),
        )
        .unwrap();
        assert_eq!(c.get_ports(), &[55432]);
        assert_eq!(c.get_user(), Some("app"));
        assert_eq!(c.get_dbname(), Some("items"));
        assert_eq!(c.get_password(), Some(&b"secret"[..]));
        assert_eq!(c.get_application_name(), Some("drdrill-demo-app"));
    }

    /// Without a URL the libpq variables are used; the database defaults to the user.
    #[test]
    fn pg_variables_as_the_reference_stack_writes_them() {
        let c = database_config(
            None,
            env(&[
                ("PGHOST", "db.example"),
                ("PGPORT", "5433"),
                ("PGUSER", "drdrill"),
                ("PGPASSWORD", "pw"),
            ]),
        )
        .unwrap();
        assert_eq!(c.get_ports(), &[5433]);
        assert_eq!(c.get_dbname(), Some("drdrill"));
        assert_eq!(c.get_password(), Some(&b"pw"[..]));
    }

    /// Nothing configured, a bad port and a bad URL are errors that say what to fix and
    /// never echo a password.
    #[test]
    fn bad_settings_are_errors() {
        assert!(matches!(database_config(None, env(&[])), Err(ConfigError::Missing)));
        assert!(matches!(
            database_config(None, env(&[("PGHOST", "h"), ("PGPORT", "http")])),
            Err(ConfigError::BadPort(_))
        ));
        let e = database_config(Some("postgres://u:hunter2@h:notaport/db"), env(&[])).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    /// A password file gives its content verbatim (quotes, `$`, spaces and backslashes
    /// included) less one trailing newline; a missing file is an error naming it.
    #[test]
    fn password_file_is_taken_verbatim() {
        let dir = std::env::temp_dir().join(format!("drdrill-demo-app-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "a'b\"c $d e\\f\n").unwrap();
        assert_eq!(read_password_file(&file).unwrap(), "a'b\"c $d e\\f");
        std::fs::write(&file, "two\n\n").unwrap();
        assert_eq!(read_password_file(&file).unwrap(), "two\n");
        let missing = dir.join("missing");
        let e = read_password_file(&missing).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
