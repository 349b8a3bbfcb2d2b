//! Host names looked up once per process and shared by every connection.
//!
//! A lock opens many connections to the same index at once (up to 64 metadata reads in
//! flight). With the default resolver each connection calls the system resolver itself, so a
//! burst of identical DNS queries leaves at the start; when one answer is lost, that connection
//! waits for the system resolver's retry (5 s by default) while the rest of the work is done.
//! One lookup per host, awaited by every connection that needs it, makes that far rarer and
//! saves the repeated lookups.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::OnceCell;

type Cell = Arc<OnceCell<Arc<Vec<SocketAddr>>>>;

/// A resolver that remembers each host's addresses for the life of the process. A failed
/// lookup is not remembered, so the next connection (a retry) asks again.
#[derive(Default)]
pub struct SharedLookups {
    hosts: Mutex<HashMap<String, Cell>>,
}

impl SharedLookups {
    fn cell(&self, host: &str) -> Cell {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.entry(host.to_string()).or_default().clone()
    }
}

impl Resolve for SharedLookups {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let cell = self.cell(&host);
        Box::pin(async move {
            let addrs = cell
                .get_or_try_init(|| async {
                    let found: Vec<SocketAddr> =
                        tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
                    Ok::<_, std::io::Error>(Arc::new(found))
                })
                .await?
                .clone();
            let iter: Addrs = Box::new((0..addrs.len()).map(move |i| addrs[i]));
            Ok(iter)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_host_is_looked_up_once_and_shared() {
        let r = SharedLookups::default();
        let name = || -> Name { "localhost".parse().expect("a valid name") };
        let first: Vec<SocketAddr> = r
            .resolve(name())
            .await
            .expect("localhost resolves")
            .collect();
        assert!(!first.is_empty());
        let second: Vec<SocketAddr> = r
            .resolve(name())
            .await
            .expect("localhost resolves")
            .collect();
        assert_eq!(first, second);
        let hosts = r.hosts.lock().expect("not poisoned");
        assert_eq!(hosts.len(), 1);
        assert!(hosts["localhost"].initialized());
    }
}
