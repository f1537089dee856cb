//! Engine logs for the host: `tracing` events become structured records that reach Go's
//! `log/slog` through the completion queue, never through a callback.
//!
//! A [`HostLayer`] turns each event at or above the level the host asked for
//! (`strata_log_level`) into a [`Completion`] with token 0 and the `STRATA_COMPLETION_LOG` flag,
//! whose data is the record encoded as strata.h describes. The host's drainer meets it among
//! ordinary completions and hands it to its logger. Events below the level are rejected at the
//! callsite check, one relaxed atomic load, so disabled levels cost next to nothing. At most
//! [`MAX_PENDING`] records wait at a time; beyond that records are dropped and counted, and the
//! count is reported in the next record that gets through.
//!
//! Independently, `STRATA_LOG=error|warn|info|debug|trace` in the environment sends events at
//! that level and above to stderr, for programs without a logger (and the CLI).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::prelude::*;

use crate::abi::{
    STRATA_COMPLETION_LOG, STRATA_LOG_FIELD_BOOL, STRATA_LOG_FIELD_F64, STRATA_LOG_FIELD_I64,
    STRATA_LOG_FIELD_STRING, STRATA_LOG_FIELD_U64,
};
use crate::completion::{Completion, CompletionQueue};

/// Records waiting for the host at most; more are dropped (and counted) until it catches up.
const MAX_PENDING: u64 = 4096;

/// The host's level as a number: 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
static HOST_LEVEL: AtomicU8 = AtomicU8::new(0);
static PENDING: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static QUEUE: OnceLock<Arc<CompletionQueue>> = OnceLock::new();

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Sets the most verbose level the host wants (0: none, 1: error ... 5: trace).
pub fn set_host_level(level: u8) {
    HOST_LEVEL.store(level.min(5), Ordering::Relaxed);
    // Callsites cache their interest; ours is `sometimes`, so nothing to rebuild.
}

/// Marks one log record as taken by the host (called by the drain that hands it out).
pub fn record_delivered() {
    PENDING.fetch_sub(1, Ordering::Relaxed);
}

/// Installs the global subscriber: records for the host, and stderr when `STRATA_LOG` asks.
/// Called once, when the runtime starts; does nothing if a subscriber is already installed.
pub fn install(queue: Arc<CompletionQueue>) {
    let _ = QUEUE.set(queue);
    let stderr_level = std::env::var("STRATA_LOG")
        .ok()
        .and_then(|v| v.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::OFF);
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_thread_names(true)
        .with_ansi(false)
        .with_filter(stderr_level);
    // Each layer filters for itself: a layer-wide `enabled` would veto events for every layer,
    // and stderr must see events the host did not ask for.
    let host = HostLayer.with_filter(HostFilter);
    let subscriber = tracing_subscriber::registry().with(host).with(stderr);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The host's level, read at every event. Its callsite interest is always "sometimes": the
/// level changes at run time, and an interest of "never" would be cached by the callsite for
/// good (a plain `filter_fn` does that, and then a level raised later never took effect).
struct HostFilter;

impl<S: Subscriber> Filter<S> for HostFilter {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        rank(meta.level()) <= HOST_LEVEL.load(Ordering::Relaxed)
    }

    fn callsite_enabled(&self, _meta: &'static tracing::Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
}

/// The layer that hands events to the host.
struct HostLayer;

impl<S: Subscriber> Layer<S> for HostLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let Some(queue) = QUEUE.get() else { return };
        if PENDING.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING {
            PENDING.fetch_sub(1, Ordering::Relaxed);
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut record = Record::default();
        event.record(&mut record);
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            record
                .fields
                .push(("strata_dropped_records".to_owned(), Value::U64(dropped)));
        }
        let data = record.encode(rank(meta.level()), meta.target());
        let mut batch = vec![Completion {
            token: 0,
            handle: 0,
            code: 0,
            flags: STRATA_COMPLETION_LOG,
            data,
        }];
        queue.publish(&mut batch);
    }
}

/// A field value, typed as the event recorded it.
enum Value {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

#[derive(Default)]
struct Record {
    message: String,
    fields: Vec<(String, Value)>,
}

impl Visit for Record {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.push(field, Value::Str(text));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
}

impl Record {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::Str(s) => s,
                _ => String::new(),
            };
        } else {
            self.fields.push((field.name().to_owned(), value));
        }
    }

    /// Encodes the record (all integers little-endian), as strata.h documents under
    /// `STRATA_COMPLETION_LOG`: level u8, target (u32 length + bytes), message (u32 length +
    /// bytes), field count u32, then per field: name (u32 length + bytes), kind u8
    /// (0 string, 1 i64, 2 u64, 3 f64, 4 bool) and the value (string: u32 length + bytes;
    /// numbers: 8 bytes; bool: 1 byte).
    fn encode(&self, level: u8, target: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.message.len());
        out.push(level);
        put_str(&mut out, target);
        put_str(&mut out, &self.message);
        out.extend_from_slice(&(self.fields.len() as u32).to_le_bytes());
        for (name, value) in &self.fields {
            put_str(&mut out, name);
            match value {
                Value::Str(s) => {
                    out.push(STRATA_LOG_FIELD_STRING);
                    put_str(&mut out, s);
                }
                Value::I64(v) => {
                    out.push(STRATA_LOG_FIELD_I64);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Value::U64(v) => {
                    out.push(STRATA_LOG_FIELD_U64);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Value::F64(v) => {
                    out.push(STRATA_LOG_FIELD_F64);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Value::Bool(v) => {
                    out.push(STRATA_LOG_FIELD_BOOL);
                    out.push(u8::from(*v));
                }
            }
        }
        out
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_encode_as_documented() {
        let record = Record {
            message: "flushed".to_owned(),
            fields: vec![
                ("dir".to_owned(), Value::Str("/d".to_owned())),
                ("bytes".to_owned(), Value::U64(7)),
                ("ok".to_owned(), Value::Bool(true)),
            ],
        };
        let got = record.encode(3, "t");
        let mut want = vec![3u8];
        want.extend_from_slice(&1u32.to_le_bytes());
        want.push(b't');
        want.extend_from_slice(&7u32.to_le_bytes());
        want.extend_from_slice(b"flushed");
        want.extend_from_slice(&3u32.to_le_bytes());
        want.extend_from_slice(&3u32.to_le_bytes());
        want.extend_from_slice(b"dir");
        want.push(0);
        want.extend_from_slice(&2u32.to_le_bytes());
        want.extend_from_slice(b"/d");
        want.extend_from_slice(&5u32.to_le_bytes());
        want.extend_from_slice(b"bytes");
        want.push(2);
        want.extend_from_slice(&7u64.to_le_bytes());
        want.extend_from_slice(&2u32.to_le_bytes());
        want.extend_from_slice(b"ok");
        want.push(4);
        want.push(1);
        assert_eq!(got, want);
    }
}
