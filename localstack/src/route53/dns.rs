//! The DNS server: hickory-server on one UDP socket and one TCP listener (same port on
//! 127.0.0.1), answering authoritatively from [`Route53::resolve`]: records by routing
//! policy and health with the record's TTL, NXDOMAIN for unknown names of a served zone,
//! REFUSED outside the served zones, NOTIMP for anything but a standard query.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType as WireType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

use super::model::{self, RecordType};
use super::{AnswerRecord, DnsLookup, Route53};

/// A TCP connection that sends no query for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// How many times a free port for both UDP and TCP is looked for.
const PORT_ATTEMPTS: usize = 20;

/// The DNS server's sockets, bound and not yet serving.
pub struct DnsSockets {
    udp: UdpSocket,
    tcp: TcpListener,
    addr: SocketAddr,
}

impl DnsSockets {
    /// Binds UDP and TCP on 127.0.0.1:`port`; port 0 picks one that is free for both.
    pub async fn bind(port: u16) -> std::io::Result<DnsSockets> {
        DnsSockets::bind_ip(IpAddr::V4(Ipv4Addr::LOCALHOST), port).await
    }

    /// Binds UDP and TCP on `ip`:`port`; port 0 picks one that is free for both.
    pub async fn bind_ip(ip: IpAddr, port: u16) -> std::io::Result<DnsSockets> {
        let mut last_err = None;
        for _ in 0..PORT_ATTEMPTS {
            let udp = UdpSocket::bind(SocketAddr::new(ip, port)).await?;
            let addr = udp.local_addr()?;
            match TcpListener::bind(addr).await {
                Ok(tcp) => return Ok(DnsSockets { udp, tcp, addr }),
                Err(e) if port == 0 && e.kind() == std::io::ErrorKind::AddrInUse => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port for UDP and TCP")))
    }

    /// The address both sockets are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Serves DNS on the sockets until `shutdown`.
pub fn spawn(r53: Arc<Route53>, sockets: DnsSockets, shutdown: CancellationToken) {
    let mut server = Server::new(Handler { r53 });
    server.register_socket(sockets.udp);
    server.register_listener(sockets.tcp, TCP_IDLE, 64);
    tokio::spawn(async move {
        let token = server.shutdown_token().clone();
        tokio::select! {
            _ = shutdown.cancelled() => {
                token.cancel();
            }
            r = server.block_until_done() => {
                if let Err(e) = r {
                    tracing::error!(error = %e, "DNS server stopped");
                }
                return;
            }
        }
        if let Err(e) = server.block_until_done().await {
            tracing::warn!(error = %e, "DNS server shut down with an error");
        }
    });
}

struct Handler {
    r53: Arc<Route53>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response: R) -> ResponseInfo {
        let response_edns = request.edns.as_ref().map(|req| {
            let mut e = Edns::new();
            e.set_max_payload(req.max_payload().max(512));
            e
        });
        let builder = MessageResponseBuilder::new(&request.queries, response_edns.as_ref());
        let mut meta = Metadata::response_from_request(&request.metadata);
        let fail = |meta: &Metadata, code: ResponseCode| {
            let mut m = *meta;
            m.response_code = code;
            m
        };
        if request.metadata.message_type != MessageType::Query || request.metadata.op_code != OpCode::Query {
            let m = fail(&meta, ResponseCode::NotImp);
            return send(&mut response, builder.build_no_records(m))
                .await
                .unwrap_or_else(|| failed(m));
        }
        let Ok(info) = request.request_info() else {
            let m = fail(&meta, ResponseCode::FormErr);
            return send(&mut response, builder.build_no_records(m))
                .await
                .unwrap_or_else(|| failed(m));
        };
        let query = info.query;
        if query.query_class() != DNSClass::IN {
            let m = fail(&meta, ResponseCode::Refused);
            return send(&mut response, builder.build_no_records(m))
                .await
                .unwrap_or_else(|| failed(m));
        }
        let qtype = query.query_type();
        let lookup = self.r53.resolve(&query.name().to_string(), record_type(qtype));
        meta.authoritative = true;
        let (code, answers, soa) = match lookup {
            DnsLookup::Answer(recs) => (
                ResponseCode::NoError,
                recs.iter().filter_map(to_record).collect(),
                Vec::new(),
            ),
            DnsLookup::NoData(soa) => (
                ResponseCode::NoError,
                Vec::new(),
                soa.iter().filter_map(to_record).collect(),
            ),
            DnsLookup::NxDomain(soa) => (
                ResponseCode::NXDomain,
                Vec::new(),
                soa.iter().filter_map(to_record).collect(),
            ),
            DnsLookup::Refused => {
                meta.authoritative = false;
                (ResponseCode::Refused, Vec::new(), Vec::new())
            }
        };
        meta.response_code = code;
        let answers: Vec<Record> = answers;
        let soa: Vec<Record> = soa;
        let msg = builder.build(meta, answers.iter(), std::iter::empty(), soa.iter(), std::iter::empty());
        send(&mut response, msg).await.unwrap_or_else(|| failed(meta))
    }
}

async fn send<'a, R: ResponseHandler>(
    response: &mut R,
    msg: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> Option<ResponseInfo> {
    match response.send_response(msg).await {
        Ok(info) => Some(info),
        Err(e) => {
            tracing::debug!(error = %e, "DNS response could not be sent");
            None
        }
    }
}

fn failed(meta: Metadata) -> ResponseInfo {
    let mut metadata = meta;
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

/// The stored type of a wire type, if Route 53 here stores it.
fn record_type(t: WireType) -> Option<RecordType> {
    Some(match t {
        WireType::A => RecordType::A,
        WireType::AAAA => RecordType::Aaaa,
        WireType::CNAME => RecordType::Cname,
        WireType::MX => RecordType::Mx,
        WireType::NS => RecordType::Ns,
        WireType::SOA => RecordType::Soa,
        WireType::TXT => RecordType::Txt,
        _ => return None,
    })
}

/// A wire record from an answer record; values were checked when stored.
fn to_record(r: &AnswerRecord) -> Option<Record> {
    let name = Name::from_ascii(&r.name).ok()?;
    let dname = |v: &str| model::normalize_name(v).ok().and_then(|n| Name::from_ascii(n).ok());
    let rdata = match r.rtype {
        RecordType::A => RData::A(A(r.value.parse().ok()?)),
        RecordType::Aaaa => RData::AAAA(AAAA(r.value.parse().ok()?)),
        RecordType::Cname => RData::CNAME(CNAME(dname(&r.value)?)),
        RecordType::Ns => RData::NS(NS(dname(&r.value)?)),
        RecordType::Mx => {
            let (pref, host) = model::parse_mx(&r.value).ok()?;
            RData::MX(MX::new(pref, Name::from_ascii(host).ok()?))
        }
        RecordType::Txt => RData::TXT(TXT::new(model::parse_txt(&r.value).ok()?)),
        RecordType::Soa => {
            let s = model::parse_soa(&r.value).ok()?;
            RData::SOA(SOA::new(
                Name::from_ascii(s.mname).ok()?,
                Name::from_ascii(s.rname).ok()?,
                s.serial,
                s.refresh,
                s.retry,
                s.expire,
                s.minimum,
            ))
        }
    };
    Some(Record::from_rdata(name, r.ttl, rdata))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stored type converts to a wire record with the answer's TTL.
    #[test]
    fn records_convert() {
        let rec = |rtype, value: &str| AnswerRecord {
            name: "x.example.com.".into(),
            rtype,
            ttl: 42,
            value: value.into(),
        };
        for (t, v) in [
            (RecordType::A, "10.0.0.1"),
            (RecordType::Aaaa, "::1"),
            (RecordType::Cname, "y.example.com"),
            (RecordType::Ns, "ns.example.com."),
            (RecordType::Mx, "10 mail.example.com"),
            (RecordType::Txt, "\"hello world\""),
            (RecordType::Soa, "ns.example. host.example. 1 7200 900 1209600 86400"),
        ] {
            let r = to_record(&rec(t, v)).unwrap_or_else(|| panic!("{t:?} {v}"));
            assert_eq!(r.ttl, 42);
        }
        assert!(to_record(&rec(RecordType::A, "nope")).is_none());
    }
}
