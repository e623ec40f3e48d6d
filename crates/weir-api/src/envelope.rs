//! Response envelopes (API.md § Conventions): `{"data": …}` for one object,
//! `{"data": […], "meta": {page, per_page, total}}` for a list.

use serde::Serialize;
use utoipa::ToSchema;
use weir_core::PageRequest;

/// A single object.
#[derive(Debug, Serialize, ToSchema)]
pub struct Data<T> {
    /// The object.
    pub data: T,
}

impl<T> Data<T> {
    /// Wraps `data`.
    pub fn new(data: T) -> Self {
        Self { data }
    }
}

/// Page position of a list answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageMeta {
    /// 1-based page number.
    pub page: u64,
    /// Items per page.
    pub per_page: u64,
    /// Items across all pages.
    pub total: u64,
    /// Lists with cursor paging: pass as `cursor` to get the next page
    /// (absent on the last page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page of objects.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    /// The objects of this page.
    pub data: Vec<T>,
    /// Where this page sits.
    pub meta: PageMeta,
}

impl<T> List<T> {
    /// Builds a page answer.
    pub fn new(data: Vec<T>, page: PageRequest, total: u64) -> Self {
        Self { data, meta: PageMeta { page: page.page(), per_page: page.per_page(), total, next_cursor: None } }
    }

    /// Adds the cursor of the next page.
    pub fn with_next_cursor(mut self, cursor: Option<String>) -> Self {
        self.meta.next_cursor = cursor;
        self
    }
}
