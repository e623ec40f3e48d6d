//! Weir's engine: the code that moves data. The connector framework
//! ([`connectors`]), the shared outbound HTTP client with its SSRF guard
//! ([`outbound`]), group-committed ingest ([`ingest`]), the worker pool
//! that turns stored events into records ([`processing`]), the sync engine
//! with its scheduler ([`sync`]), retention ([`retention`]) and the
//! live-event bus behind the SSE stream ([`live`]). [`Engine::start`]
//! starts the background tasks an instance runs and [`Engine::shutdown`]
//! stops them ([`engine`]).

pub mod audit_heads;
pub mod audit_sealer;
pub mod connectors;
pub mod engine;
pub mod ingest;
pub mod intake;
pub mod live;
pub mod outbound;
pub mod processing;
pub mod retention;
pub mod sso;
pub mod sync;

pub use connectors::{ConnectionTest, Connector, ConnectorError, FetchedPage, PushOutcome, build_connector};
pub use engine::{Engine, EngineOptions};
pub use ingest::{Ingest, IngestError, IngestOptions};
pub use intake::{Intake, Receipt, Refusal};
pub use live::{LiveBus, TenantEvent};
pub use outbound::{Outbound, OutboundPolicy};
pub use processing::{BatchReport, Processor, ProcessorOptions, RetryPolicy};
pub use sso::Sso;
pub use sync::{SyncEngine, SyncOptions};
pub use weir_core::LiveEvent;
