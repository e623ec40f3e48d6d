//! Weir's engine: the code that moves data. The connector framework
//! ([`connectors`]), the shared outbound HTTP client with its SSRF guard
//! ([`outbound`]), group-committed ingest ([`ingest`]) and the worker pool
//! that turns stored events into records ([`processing`]); the scheduler
//! and the live-event bus join it as they are built.

pub mod connectors;
pub mod ingest;
pub mod outbound;
pub mod processing;

pub use connectors::{ConnectionTest, Connector, ConnectorError, FetchedPage, PushOutcome, build_connector};
pub use ingest::{Ingest, IngestError, IngestOptions};
pub use outbound::{Outbound, OutboundPolicy};
pub use processing::{BatchReport, Processor, ProcessorOptions, RetryPolicy};
