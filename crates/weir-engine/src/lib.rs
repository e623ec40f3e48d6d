//! Weir's engine: the code that moves data. The connector framework
//! ([`connectors`]), the shared outbound HTTP client with its SSRF guard
//! ([`outbound`]), group-committed ingest ([`ingest`]) and the worker pool
//! that turns stored events into records ([`processing`]), and the sync
//! engine with its scheduler ([`sync`]); the live-event bus joins it later.

pub mod connectors;
pub mod ingest;
pub mod intake;
pub mod live;
pub mod outbound;
pub mod processing;
pub mod retention;
pub mod sync;

pub use connectors::{ConnectionTest, Connector, ConnectorError, FetchedPage, PushOutcome, build_connector};
pub use ingest::{Ingest, IngestError, IngestOptions};
pub use intake::{Intake, Receipt, Refusal};
pub use live::{LiveBus, LiveEvent};
pub use outbound::{Outbound, OutboundPolicy};
pub use processing::{BatchReport, Processor, ProcessorOptions, RetryPolicy};
pub use sync::{SyncEngine, SyncOptions};
