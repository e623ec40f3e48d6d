//! Which addresses a multi-tenant deployment must not let a tenant point Weir
//! at. IPv6 forms that carry an IPv4 address (NAT64, IPv4-compatible,
//! -mapped and -translated, 6to4, Teredo) are judged by the IPv4 address
//! they carry, so `[64:ff9b::7f00:1]` is loopback, as it is once translated.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is loopback, private, link-local, CGNAT, unspecified,
/// broadcast, multicast, documentation, reserved or unique-local — directly
/// or through the IPv4 address an IPv6 form embeds.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_non_public_v4(v4),
        IpAddr::V6(v6) => {
            if v6.is_loopback() || v6.is_unspecified() {
                return true;
            }
            if let Some(embedded) = embedded_v4(v6) {
                return embedded.iter().any(|v4| is_non_public_v4(*v4));
            }
            let s = v6.segments();
            v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[0] == 0x2001 && s[1] == 0x0db8
        }
    }
}

fn is_non_public_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || o[0] >= 240
}

/// The IPv4 addresses an IPv6 address carries, by its prefix:
/// - `64:ff9b::/96` (NAT64, RFC 6052) and `::/96` (IPv4-compatible): the last 32 bits;
/// - `::ffff:0:0/96` (mapped) and `::ffff:0:0:0/96` (SIIT, translated): the last 32 bits;
/// - `64:ff9b:1::/48` (local-use NAT64, RFC 8215): bits 48–63 and 72–87 (RFC 6052's /48 layout);
/// - `2002::/16` (6to4): bits 16–47;
/// - `2001::/32` (Teredo): the server (bits 32–63) and the client (the last 32 bits, inverted).
fn embedded_v4(v6: Ipv6Addr) -> Option<Vec<Ipv4Addr>> {
    let s = v6.segments();
    let b = v6.octets();
    let last = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
    let zero = |range: std::ops::Range<usize>| s[range].iter().all(|x| *x == 0);
    if (s[0] == 0x64 && s[1] == 0xff9b && zero(2..6))
        || zero(0..6)
        || (zero(0..5) && s[5] == 0xffff)
        || (zero(0..4) && s[4] == 0xffff && s[5] == 0)
    {
        return Some(vec![last]);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return Some(vec![Ipv4Addr::new(b[6], b[7], b[9], b[10])]);
    }
    if s[0] == 0x2002 {
        return Some(vec![Ipv4Addr::new(b[2], b[3], b[4], b[5])]);
    }
    if s[0] == 0x2001 && s[1] == 0 {
        let server = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
        let client = Ipv4Addr::new(!b[12], !b[13], !b[14], !b[15]);
        return Some(vec![server, client]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn non_public(ip: &str) -> bool {
        is_non_public(ip.parse().unwrap())
    }

    #[test]
    fn classifies_plain_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "2001:db8::1",
        ] {
            assert!(non_public(ip), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!non_public(ip), "{ip}");
        }
    }

    #[test]
    fn judges_ipv6_forms_by_the_ipv4_they_carry() {
        for ip in [
            "64:ff9b::7f00:1",                      // NAT64 of 127.0.0.1
            "64:ff9b::a9fe:a9fe",                   // NAT64 of 169.254.169.254
            "64:ff9b:1:7f00:0:100::",               // local-use NAT64 /48 of 127.0.0.1
            "::127.0.0.1",                          // IPv4-compatible
            "::10.0.0.1",                           // IPv4-compatible, private
            "::ffff:127.0.0.1",                     // mapped
            "::ffff:0:7f00:1",                      // SIIT, translated
            "2002:7f00:1::1",                       // 6to4 of 127.0.0.1
            "2002:c0a8:101::1",                     // 6to4 of 192.168.1.1
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo, client 127.0.0.1
            "2001:0:a00:1:8000:63bf:a7ff:fefe",     // Teredo, server 10.0.0.1
        ] {
            assert!(non_public(ip), "{ip}");
        }
        for ip in [
            "64:ff9b::5db8:d822", // NAT64 of 93.184.216.34
            "::ffff:8.8.8.8",
            "2002:5db8:d822::1",                    // 6to4 of 93.184.216.34
            "2001:0:4136:e378:8000:63bf:a247:27dd", // Teredo, server 65.54.227.120, client 93.184.216.34
        ] {
            assert!(!non_public(ip), "{ip}");
        }
    }
}
