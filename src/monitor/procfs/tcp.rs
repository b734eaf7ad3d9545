//! Parsing /proc/net/tcp and /proc/net/tcp6.
//!
//! Owns: the table format (hex addresses in the kernel's byte order, hex states).
//! Must never: panic on a line it does not understand; such lines are skipped.

use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    Other,
}

impl TcpState {
    /// Every state a socket with an owner can be in (TIME_WAIT sockets have none).
    pub const OWNED: [TcpState; 10] = [
        Self::Established,
        Self::SynSent,
        Self::SynRecv,
        Self::FinWait1,
        Self::FinWait2,
        Self::Close,
        Self::CloseWait,
        Self::LastAck,
        Self::Listen,
        Self::Closing,
    ];

    /// From the `st` column (include/net/tcp_states.h).
    pub fn from_hex(st: &str) -> Self {
        match u8::from_str_radix(st, 16) {
            Ok(0x01) => Self::Established,
            Ok(0x02) => Self::SynSent,
            Ok(0x03) => Self::SynRecv,
            Ok(0x04) => Self::FinWait1,
            Ok(0x05) => Self::FinWait2,
            Ok(0x06) => Self::TimeWait,
            Ok(0x07) => Self::Close,
            Ok(0x08) => Self::CloseWait,
            Ok(0x09) => Self::LastAck,
            Ok(0x0A) => Self::Listen,
            Ok(0x0B) => Self::Closing,
            _ => Self::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Established => "ESTABLISHED",
            Self::SynSent => "SYN_SENT",
            Self::SynRecv => "SYN_RECV",
            Self::FinWait1 => "FIN_WAIT1",
            Self::FinWait2 => "FIN_WAIT2",
            Self::TimeWait => "TIME_WAIT",
            Self::Close => "CLOSE",
            Self::CloseWait => "CLOSE_WAIT",
            Self::LastAck => "LAST_ACK",
            Self::Listen => "LISTEN",
            Self::Closing => "CLOSING",
            Self::Other => "OTHER",
        }
    }
}

impl Serialize for TcpState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One socket of this process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TcpSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    pub inode: u64,
}

/// Every parsable row of a tcp or tcp6 table (the header line is skipped).
pub(super) fn parse_table(text: &str) -> impl Iterator<Item = TcpSocket> + '_ {
    text.lines().skip(1).filter_map(parse_line)
}

/// `  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 12345 ...`
fn parse_line(line: &str) -> Option<TcpSocket> {
    let mut cols = line.split_whitespace();
    let _slot = cols.next()?;
    let local = parse_addr(cols.next()?)?;
    let remote = parse_addr(cols.next()?)?;
    let state = TcpState::from_hex(cols.next()?);
    // tx:rx queue, timer, retransmits, uid, timeout, then the inode.
    let inode = cols.nth(5)?.parse().ok()?;
    Some(TcpSocket {
        local,
        remote,
        state,
        inode,
    })
}

/// `0100007F:1F90` (IPv4) or 32 hex digits (IPv6) and a port. The kernel prints each 32-bit word
/// of the address as a host-order integer, so the native byte order recovers network order.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = ip.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_v4_and_v6_rows() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:D431 08 00000000:00000000 00:00000000 00000000  1000        0 4243 1\n garbage line\n";
        let rows: Vec<TcpSocket> = parse_table(v4).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(rows[0].state, TcpState::Listen);
        assert_eq!(rows[0].inode, 4242);
        assert_eq!(rows[1].remote, "127.0.0.1:54321".parse().unwrap());
        assert_eq!(rows[1].state, TcpState::CloseWait);

        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 01 00000000:00000000 00:00000000 00000000  1000        0 777 1\n";
        let rows: Vec<TcpSocket> = parse_table(v6).collect();
        assert_eq!(rows[0].local, "[::1]:8080".parse().unwrap());
        assert_eq!(rows[0].state, TcpState::Established);
        assert_eq!(rows[0].inode, 777);
    }

    #[test]
    fn state_names() {
        assert_eq!(TcpState::from_hex("01").name(), "ESTABLISHED");
        assert_eq!(TcpState::from_hex("08").name(), "CLOSE_WAIT");
        assert_eq!(TcpState::from_hex("0A").name(), "LISTEN");
        assert_eq!(TcpState::from_hex("zz"), TcpState::Other);
    }
}
