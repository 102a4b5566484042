//! Where webhooks may point (SSRF): `https` URLs (plain `http` only when a setting allows
//! it) whose host is, and resolves to, public addresses only — checked when a URL is saved
//! and again at every delivery on the resolved address (the client's resolver drops
//! non-public ones, so DNS rebinding cannot turn a saved name into an inner address).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

pub use crate::settings::UrlPolicy as Policy;

/// Longest accepted URL.
pub const MAX_URL: usize = 2000;

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking (RFC 2544)
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || first == 0x0064 // NAT64 (64:ff9b::/96 and local use)
        || (first & 0xffc0) == 0xfec0) // site-local (deprecated)
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// Checks a webhook URL (when it is saved, and before each delivery); the reason it is
/// refused otherwise, in the API's words.
pub fn check_url(text: &str, policy: Policy) -> Result<Url, String> {
    if text.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    let url = Url::parse(text).map_err(|e| {
        use url::ParseError as E;
        let why = match e {
            E::RelativeUrlWithoutBase => "it has no scheme; give the whole address, https://…",
            E::EmptyHost => "it names no host",
            E::InvalidPort => "its port is not a number from 1 to 65535",
            E::InvalidIpv4Address | E::InvalidIpv6Address => "its IP address is malformed",
            E::IdnaError | E::InvalidDomainCharacter => {
                "its host name holds characters no host name may"
            }
            _ => "it is malformed",
        };
        format!("is not a URL: {why}")
    })?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err("must use https".into()),
        other => return Err(format!("must be an https URL, not {other}:")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials".into());
    }
    let host = url.host().ok_or("must name a host")?;
    if policy.allow_private {
        return Ok(url);
    }
    let ip = match host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err("must not point to this machine".into());
            }
            None
        }
    };
    match ip {
        Some(ip) if !is_public(ip) => Err(format!("must not point to a non-public address ({ip})")),
        _ => Ok(url),
    }
}

/// The delivery client's resolver: the system's, with every non-public address dropped
/// (unless the policy allows them); a name left with none fails the attempt.
#[derive(Debug, Clone)]
pub struct PublicResolver {
    pub policy: Policy,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.policy.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| allow_private || is_public(addr.ip()))
                .collect();
            if usable.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}

impl PublicResolver {
    /// The resolver, shared as the client needs it.
    pub fn shared(policy: Policy) -> Arc<PublicResolver> {
        Arc::new(PublicResolver { policy })
    }
}

#[cfg(test)]
mod tests {
    use crate::webhooks::address::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "ff02::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_https_to_public_hosts_unless_allowed() {
        let strict = Policy::default();
        assert!(check_url("https://hooks.example.com/mutua", strict).is_ok());
        for (url, why) in [
            ("http://hooks.example.com/", "https"),
            ("ftp://hooks.example.com/", "https"),
            ("https://127.0.0.1/hook", "non-public"),
            ("https://[::1]/hook", "non-public"),
            ("https://10.0.0.5/hook", "non-public"),
            ("https://169.254.169.254/latest/meta-data", "non-public"),
            ("https://localhost/hook", "this machine"),
            ("https://api.localhost./hook", "this machine"),
            ("https://user:pw@hooks.example.com/", "credentials"),
            ("not a url", "is not a URL: it has no scheme"),
            ("https://:443/hook", "is not a URL: it names no host"),
            ("https://hooks.example.com:99999/", "is not a URL: its port"),
        ] {
            let refused = check_url(url, strict).expect_err(url);
            assert!(refused.contains(why), "{url}: {refused}");
        }
        let local = Policy {
            allow_http: true,
            allow_private: true,
        };
        assert!(check_url("http://127.0.0.1:9000/hook", local).is_ok());
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL));
        assert!(check_url(&long, local).is_err());
    }

    #[actix_web::test]
    async fn the_delivery_resolver_drops_inner_addresses() {
        use std::str::FromStr;
        let strict = PublicResolver::shared(Policy::default());
        let refused = strict
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .err()
            .expect("localhost is refused");
        assert!(
            refused.to_string().contains("no public address"),
            "{refused}"
        );
        let local = PublicResolver::shared(Policy {
            allow_http: true,
            allow_private: true,
        });
        let found: Vec<SocketAddr> = local
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .expect("allowed when private addresses are")
            .collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()) && !found.is_empty());
    }
}
