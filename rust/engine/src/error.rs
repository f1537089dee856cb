//! The engine's one error type. Every fallible engine function returns [`Result`].
//!
//! Each variant maps to a stable numeric [`ErrorCode`] that the C ABI exposes and the Go SDK maps
//! to a sentinel error. Codes are part of the ABI: never renumber one, only add.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable error codes shared with the C ABI (`STRATA_ERR_*` in strata.h) and the Go SDK.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Ok = 0,
    NotFound = 1,
    Closed = 2,
    Corruption = 3,
    InvalidArgument = 4,
    Io = 5,
    Locked = 6,
    Poisoned = 7,
    Internal = 8,
    ReadOnly = 9,
    Conflict = 10,
}

/// Everything that can go wrong in the engine.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// The caller passed something the engine refuses (oversized key, malformed batch, ...).
    InvalidArgument(String),
    /// Stored data failed a checksum or a structural check. `file` names the damaged file.
    Corruption {
        file: PathBuf,
        offset: u64,
        detail: String,
    },
    /// An operating-system I/O call failed; `context` says which one and on what.
    Io { context: String, source: io::Error },
    /// Another handle (in this process or another) holds the directory's lock file.
    Locked(PathBuf),
    /// The database was closed.
    Closed,
    /// An earlier failure (an fsync error, a panic) made the database refuse writes; the string
    /// says what happened first. Reopen the directory to recover.
    Poisoned(String),
    /// A bug in strata: an invariant broke or code panicked. The string describes it.
    Internal(String),
    /// The database was opened read-only; the string names what was refused.
    ReadOnly(String),
    /// A transaction's commit found that a write committed after its snapshot changed a key
    /// it read; nothing of it was written. The string names the key.
    Conflict(String),
}

impl Error {
    /// The stable ABI code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::Corruption { .. } => ErrorCode::Corruption,
            Error::Io { .. } => ErrorCode::Io,
            Error::Locked(_) => ErrorCode::Locked,
            Error::Closed => ErrorCode::Closed,
            Error::Poisoned(_) => ErrorCode::Poisoned,
            Error::Internal(_) => ErrorCode::Internal,
            Error::ReadOnly(_) => ErrorCode::ReadOnly,
            Error::Conflict(_) => ErrorCode::Conflict,
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A copy of this error for a second reporter (an iterator's status, a background
    /// failure seen by every later write). I/O errors keep their kind and message.
    pub fn clone_for_report(&self) -> Error {
        match self {
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            Error::Corruption {
                file,
                offset,
                detail,
            } => Error::corruption(file.clone(), *offset, detail.clone()),
            Error::Io { context, source } => Error::io(
                context.clone(),
                io::Error::new(source.kind(), source.to_string()),
            ),
            Error::Locked(p) => Error::Locked(p.clone()),
            Error::Closed => Error::Closed,
            Error::Poisoned(m) => Error::Poisoned(m.clone()),
            Error::Internal(m) => Error::Internal(m.clone()),
            Error::ReadOnly(m) => Error::ReadOnly(m.clone()),
            Error::Conflict(m) => Error::Conflict(m.clone()),
        }
    }

    /// Builds a corruption error for `file` at byte `offset`.
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, detail: impl Into<String>) -> Error {
        Error::Corruption {
            file: file.into(),
            offset,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::Corruption {
                file,
                offset,
                detail,
            } => write!(
                f,
                "corruption in {} at offset {offset}: {detail}",
                file.display()
            ),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Locked(path) => write!(
                f,
                "{} is locked: the database is already open (in this or another process)",
                path.display()
            ),
            Error::Closed => write!(f, "database is closed"),
            Error::Poisoned(why) => {
                write!(f, "database refuses writes after an earlier failure: {why}")
            }
            Error::Internal(msg) => write!(f, "internal error: {msg}"),
            Error::ReadOnly(what) => write!(f, "database is open read-only, so {what} is refused"),
            Error::Conflict(why) => write!(f, "transaction conflict: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The text of a panic payload (a `&str` or `String` message), for errors that report a panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}
