//! Weir's engine: the code that talks to outside systems. Today that is the
//! connector framework ([`connectors`]) and the shared outbound HTTP client
//! with its SSRF guard ([`outbound`]); workers, the scheduler and the
//! live-event bus join it as they are built.

pub mod connectors;
pub mod ingest;
pub mod outbound;

pub use connectors::{ConnectionTest, Connector, ConnectorError, FetchedPage, PushOutcome, build_connector};
pub use ingest::{Ingest, IngestError, IngestOptions};
pub use outbound::{Outbound, OutboundPolicy};
