//! Page-based pagination as API.md defines it: `?page=` from 1, `?per_page=`
//! from 1 to 100 (default 25).

use thiserror::Error;

/// Largest `per_page` a client may ask for.
pub const MAX_PER_PAGE: u64 = 100;
/// `per_page` when the client does not say.
pub const DEFAULT_PER_PAGE: u64 = 25;
/// Largest page number accepted; far beyond any real listing, small enough
/// that `page * per_page` never overflows an SQL `OFFSET`.
pub const MAX_PAGE: u64 = 1_000_000;

/// Why a page request was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PageError {
    /// `page` outside `1..=MAX_PAGE`.
    #[error("page must be between 1 and {MAX_PAGE}")]
    Page,
    /// `per_page` outside `1..=MAX_PER_PAGE`.
    #[error("per_page must be between 1 and {MAX_PER_PAGE}")]
    PerPage,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u64,
    per_page: u64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, per_page: DEFAULT_PER_PAGE }
    }
}

impl PageRequest {
    /// Checks the bounds; `None` takes the default.
    pub fn parse(page: Option<u64>, per_page: Option<u64>) -> Result<Self, PageError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(PageError::Page);
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(PageError::PerPage);
        }
        Ok(Self { page, per_page })
    }

    /// 1-based page number.
    pub fn page(&self) -> u64 {
        self.page
    }

    /// Items per page.
    pub fn per_page(&self) -> u64 {
        self.per_page
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.per_page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let p = PageRequest::parse(None, None).unwrap();
        assert_eq!((p.page(), p.per_page(), p.offset()), (1, 25, 0));
        let p = PageRequest::parse(Some(3), Some(100)).unwrap();
        assert_eq!(p.offset(), 200);
        assert_eq!(PageRequest::parse(Some(0), None), Err(PageError::Page));
        assert_eq!(PageRequest::parse(Some(MAX_PAGE + 1), None), Err(PageError::Page));
        assert_eq!(PageRequest::parse(None, Some(0)), Err(PageError::PerPage));
        assert_eq!(PageRequest::parse(None, Some(101)), Err(PageError::PerPage));
    }
}
