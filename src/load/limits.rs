//! The load generator's own machine: how many connections it may open, and what to say
//! when it runs out. A run that cannot open connections must say so once, with the
//! figure and what to change, not flood its report with thousands of connect errors that
//! look like the server's fault.

use std::io;

use super::record::{ErrorKind, Resource};

/// Raises this process's soft limit on open files (RLIMIT_NOFILE) to its hard limit, as
/// wrk and k6 advise doing by hand: the soft limit is often 1,024 while the hard one allows
/// far more, and every connection is a file. Returns the limit now in force.
pub fn raise_open_files() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) and setrlimit(2) with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}

/// The kind of a failure to open a connection: this machine's limits apart from the rest.
pub fn connect_error(error: &io::Error) -> ErrorKind {
    match error.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => ErrorKind::Exhausted(Resource::Files),
        Some(libc::EADDRNOTAVAIL) => ErrorKind::Exhausted(Resource::Ports),
        _ => ErrorKind::Connect,
    }
}

/// The one message for `count` connections that could not be opened for want of
/// `resource`, with the figure in force and what to change.
pub fn advice(resource: Resource, count: u64, open_files: Option<u64>) -> String {
    match resource {
        Resource::Files => {
            let limit = open_files.map_or("unknown".to_string(), |n| n.to_string());
            format!(
                "{count} connections could not be opened: this process ran out of file \
                 descriptors (its limit, raised to the hard limit, is {limit}); raise the hard \
                 limit (`ulimit -Hn`, LimitNOFILE= under systemd, /etc/security/limits.conf) \
                 or run fewer users or a lower max_in_flight"
            )
        }
        Resource::Ports => {
            let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
                .ok()
                .and_then(|text| port_range(&text))
                .map_or("unknown".to_string(), |(lo, hi)| {
                    format!("{lo}–{hi}, {} ports", hi - lo + 1)
                });
            format!(
                "{count} connections could not be opened: this machine ran out of local ports \
                 (net.ipv4.ip_local_port_range is {range}, and closed connections hold theirs \
                 in TIME_WAIT for a minute); keep connections alive, run fewer of them, widen \
                 the range or set net.ipv4.tcp_tw_reuse = 1"
            )
        }
    }
}

fn port_range(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split_whitespace().map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) if lo <= hi => Some((lo, hi)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(libc::EMFILE, ErrorKind::Exhausted(Resource::Files))]
    #[case(libc::ENFILE, ErrorKind::Exhausted(Resource::Files))]
    #[case(libc::EADDRNOTAVAIL, ErrorKind::Exhausted(Resource::Ports))]
    #[case(libc::ECONNREFUSED, ErrorKind::Connect)]
    fn connect_errors(#[case] errno: i32, #[case] expected: ErrorKind) {
        assert_eq!(
            connect_error(&io::Error::from_raw_os_error(errno)),
            expected
        );
    }

    #[rstest]
    #[case("32768\t60999\n", Some((32768, 60999)))]
    #[case("1024 1024", Some((1024, 1024)))]
    #[case("60999 32768", None)]
    #[case("", None)]
    fn port_ranges(#[case] text: &str, #[case] expected: Option<(u32, u32)>) {
        assert_eq!(port_range(text), expected);
    }

    #[test]
    fn advice_gives_the_figure_and_the_change() {
        let files = advice(Resource::Files, 12, Some(1024));
        assert!(
            files.starts_with("12 connections could not be opened"),
            "{files}"
        );
        assert!(
            files.contains("is 1024") && files.contains("ulimit -Hn"),
            "{files}"
        );
        let ports = advice(Resource::Ports, 3, None);
        assert!(ports.contains("ip_local_port_range") && ports.contains("tcp_tw_reuse"));
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let now = raise_open_files().unwrap();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit(2) with a valid pointer to a local struct.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!((limit.rlim_cur, limit.rlim_max), (now, now));
    }
}
