//! Connection URLs made safe to log.

/// `url` as text with its password, if it has one, replaced by `REDACTED`:
/// user, host, path and query stay, so the text still says where it points.
pub fn redact_password(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        // Cannot fail: a URL with a password has a host.
        let _ = u.set_password(Some("REDACTED"));
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_password_is_replaced() {
        let u = url::Url::parse("postgres://weir:s3cret@db:5432/weir?sslmode=require").unwrap();
        assert_eq!(redact_password(&u), "postgres://weir:REDACTED@db:5432/weir?sslmode=require");
        let u = url::Url::parse("redis://cache:6379/0").unwrap();
        assert_eq!(redact_password(&u), "redis://cache:6379/0");
    }
}
