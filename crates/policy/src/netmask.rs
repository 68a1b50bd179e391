//! CIDR blocks as merged, sorted address ranges.

use ipnet::IpNet;
use std::net::IpAddr;

/// A set of IPv4 and IPv6 CIDR blocks, answering "is this address inside
/// any of them" in `O(log n)` by binary search over merged ranges.
///
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are matched as IPv4.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetmaskSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl NetmaskSet {
    /// Builds the set; overlapping and adjacent blocks are merged.
    pub fn new<I: IntoIterator<Item = IpNet>>(nets: I) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in nets {
            match net.trunc() {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        NetmaskSet {
            v4: merge(v4),
            v6: merge(v6),
        }
    }

    /// True when the set holds no block at all.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// How many merged ranges the set holds.
    pub fn ranges(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether `addr` lies inside any block.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match addr.to_canonical() {
            IpAddr::V4(a) => inside(&self.v4, u32::from(a)),
            IpAddr::V6(a) => inside(&self.v6, u128::from(a)),
        }
    }
}

fn merge<T: Ord + Copy + num::Step>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        if let Some(last) = out.last_mut() {
            if start <= last.1 || T::follows(last.1, start) {
                if end > last.1 {
                    last.1 = end;
                }
                continue;
            }
        }
        out.push((start, end));
    }
    out
}

fn inside<T: Ord + Copy>(ranges: &[(T, T)], addr: T) -> bool {
    // Index of the first range starting after `addr`; the one before it is the candidate.
    let idx = ranges.partition_point(|&(start, _)| start <= addr);
    idx > 0 && ranges[idx - 1].1 >= addr
}

mod num {
    /// "b is a + 1", without overflow, for merging adjacent ranges.
    pub trait Step {
        fn follows(a: Self, b: Self) -> bool;
    }
    impl Step for u32 {
        fn follows(a: u32, b: u32) -> bool {
            a.checked_add(1) == Some(b)
        }
    }
    impl Step for u128 {
        fn follows(a: u128, b: u128) -> bool {
            a.checked_add(1) == Some(b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(nets: &[&str]) -> NetmaskSet {
        NetmaskSet::new(nets.iter().map(|n| n.parse::<IpNet>().unwrap()))
    }

    #[test]
    fn v4_inside_and_outside() {
        let s = set(&["64.233.187.0/24", "10.0.0.0/8"]);
        assert!(s.contains("64.233.187.99".parse().unwrap()));
        assert!(s.contains("64.233.187.0".parse().unwrap()));
        assert!(s.contains("64.233.187.255".parse().unwrap()));
        assert!(!s.contains("64.233.188.0".parse().unwrap()));
        assert!(!s.contains("64.233.186.255".parse().unwrap()));
        assert!(s.contains("10.255.255.255".parse().unwrap()));
        assert!(!s.contains("11.0.0.0".parse().unwrap()));
    }

    #[test]
    fn v6_and_mapped_v4() {
        let s = set(&["2001:db8::/32", "192.0.2.0/24"]);
        assert!(s.contains("2001:db8:1::7".parse().unwrap()));
        assert!(!s.contains("2001:db9::1".parse().unwrap()));
        assert!(s.contains("::ffff:192.0.2.7".parse().unwrap()));
        assert!(!s.contains("::ffff:192.0.3.7".parse().unwrap()));
    }

    #[test]
    fn merges_overlaps_and_neighbours() {
        let s = set(&["10.0.0.0/25", "10.0.0.128/25", "10.0.0.0/24", "0.0.0.0/0"]);
        assert_eq!(s.ranges(), 1);
        assert!(s.contains("255.255.255.255".parse().unwrap()));
        let full6 = set(&["::/0"]);
        assert!(full6.contains("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe".parse().unwrap()));
    }

    #[test]
    fn host_bits_are_ignored() {
        let s = set(&["192.0.2.77/24"]);
        assert!(s.contains("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn empty_set_contains_nothing() {
        let s = NetmaskSet::default();
        assert!(s.is_empty());
        assert!(!s.contains("127.0.0.1".parse().unwrap()));
    }
}
