//! What a kubeadm cluster's PKI contains: every certificate's file, issuer, subject, usages and SANs.
//!
//! The table follows kubeadm (`cmd/kubeadm/app/phases/certs/certlist.go`, `pkiutil`), as seed 003's
//! tables list it. One deliberate choice: `admin.conf` carries `O=kubeadm:cluster-admins` and
//! `super-admin.conf` carries `O=system:masters`, as kubeadm does since v1.29, so the everyday admin
//! credential can be revoked by deleting a ClusterRoleBinding while the break-glass one cannot.

use std::net::IpAddr;
use std::time::Duration;

use super::{KeyType, PkiError};

/// The group `system:masters`: every request from it is allowed before RBAC runs.
pub const MASTERS_GROUP: &str = "system:masters";
/// The group kubeadm's `admin.conf` carries, bound to `cluster-admin` by a ClusterRoleBinding.
pub const CLUSTER_ADMINS_GROUP: &str = "kubeadm:cluster-admins";
/// How far `NotBefore` is set in the past so that a peer whose clock lags still accepts the cert.
pub const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// Inputs of `kauth pki init`, with kubeadm's defaults.
#[derive(Debug, Clone)]
pub struct PkiConfig {
    /// The cluster's name in kubeconfigs (`kubernetes`).
    pub cluster_name: String,
    /// The control-plane node's name: a SAN of the apiserver and etcd certs, and kubelet.conf's user.
    pub node_name: String,
    /// The address the apiserver advertises (an IP SAN; the server of local kubeconfigs).
    pub advertise_address: IpAddr,
    /// The apiserver's port (6443).
    pub bind_port: u16,
    /// A stable `host[:port]` for the control plane (a load balancer's name or IP), if any.
    pub control_plane_endpoint: Option<String>,
    /// Extra SANs for the apiserver cert: DNS names or IPs.
    pub apiserver_cert_sans: Vec<String>,
    /// The service CIDR(s), comma-separated; the first address of each is the `kubernetes` service IP.
    pub service_cidr: String,
    /// The cluster DNS domain (`cluster.local`).
    pub dns_domain: String,
    /// The key type for every key.
    pub key_type: KeyType,
    /// CA validity (10 years).
    pub ca_validity: Duration,
    /// Leaf validity (1 year).
    pub cert_validity: Duration,
}

impl Default for PkiConfig {
    fn default() -> Self {
        PkiConfig {
            cluster_name: "kubernetes".into(),
            node_name: "localhost".into(),
            advertise_address: IpAddr::from([127, 0, 0, 1]),
            bind_port: 6443,
            control_plane_endpoint: None,
            apiserver_cert_sans: Vec::new(),
            service_cidr: "10.96.0.0/12".into(),
            dns_domain: "cluster.local".into(),
            key_type: KeyType::Rsa2048,
            ca_validity: Duration::from_secs(10 * 365 * 24 * 3600),
            cert_validity: Duration::from_secs(365 * 24 * 3600),
        }
    }
}

/// The three certificate authorities of a kubeadm cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum CaId {
    /// `ca`: the cluster CA (client certs, the apiserver's serving cert, kubeconfigs).
    Cluster,
    /// `front-proxy-ca`: signs the front proxy's client cert (aggregation layer).
    FrontProxy,
    /// `etcd/ca`: etcd's own CA.
    Etcd,
}

impl CaId {
    /// Every CA.
    pub const ALL: [CaId; 3] = [CaId::Cluster, CaId::FrontProxy, CaId::Etcd];

    /// kubeadm's name for it (`ca`, `front-proxy-ca`, `etcd-ca`).
    pub fn name(self) -> &'static str {
        match self {
            CaId::Cluster => "ca",
            CaId::FrontProxy => "front-proxy-ca",
            CaId::Etcd => "etcd-ca",
        }
    }

    /// The file stem under the PKI directory.
    pub fn file_stem(self) -> &'static str {
        match self {
            CaId::Cluster => "ca",
            CaId::FrontProxy => "front-proxy-ca",
            CaId::Etcd => "etcd/ca",
        }
    }

    /// The CA's CommonName.
    pub fn common_name(self) -> &'static str {
        match self {
            CaId::Cluster => "kubernetes",
            CaId::FrontProxy => "front-proxy-ca",
            CaId::Etcd => "etcd-ca",
        }
    }
}

/// What a certificate is for: the ExtendedKeyUsage purposes it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// TLS server authentication.
    pub server: bool,
    /// TLS client authentication.
    pub client: bool,
}

impl Usage {
    /// serverAuth only.
    pub const SERVER: Usage = Usage { server: true, client: false };
    /// clientAuth only.
    pub const CLIENT: Usage = Usage { server: false, client: true };
    /// Both (etcd serves and dials peers with the same cert).
    pub const BOTH: Usage = Usage { server: true, client: true };
}

/// The subject, usages and SANs one certificate must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Subject CommonName.
    pub common_name: String,
    /// Subject Organization values.
    pub organizations: Vec<String>,
    /// Whether this is a CA.
    pub is_ca: bool,
    /// ExtendedKeyUsage (ignored for CAs).
    pub usage: Usage,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP SANs.
    pub ip_addresses: Vec<IpAddr>,
}

/// One leaf certificate kauth keeps as a `.crt`/`.key` pair.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// kubeadm's name, used by `renew` and `check` (`apiserver`, `etcd-server`, ...).
    pub name: &'static str,
    /// The file stem under the PKI directory (`apiserver`, `etcd/server`, ...).
    pub file_stem: &'static str,
    /// The CA that signs it.
    pub ca: CaId,
    /// What it must look like.
    pub profile: Profile,
}

/// One kubeconfig with an embedded client certificate.
#[derive(Debug, Clone)]
pub struct KubeconfigSpec {
    /// The file name (`admin.conf`, ...).
    pub file: &'static str,
    /// The user name inside the kubeconfig (`kubernetes-admin`, ...).
    pub user: String,
    /// The client certificate's profile.
    pub profile: Profile,
    /// The apiserver URL it points to.
    pub server: String,
}

impl PkiConfig {
    /// Checks every field and returns the first service IP of each service CIDR.
    pub fn validate(&self) -> Result<Vec<IpAddr>, PkiError> {
        if !is_dns1123_subdomain(&self.node_name) {
            return Err(PkiError::Config {
                field: "node name",
                problem: format!("{:?} is not a lowercase RFC 1123 DNS subdomain", self.node_name),
            });
        }
        if !is_dns1123_subdomain(&self.dns_domain) {
            return Err(PkiError::Config {
                field: "DNS domain",
                problem: format!("{:?} is not a lowercase RFC 1123 DNS subdomain", self.dns_domain),
            });
        }
        if self.cluster_name.is_empty() {
            return Err(PkiError::Config { field: "cluster name", problem: "must not be empty".into() });
        }
        for san in &self.apiserver_cert_sans {
            parse_san(san)?;
        }
        if let Some(ep) = &self.control_plane_endpoint {
            let (host, _) = split_host_port(ep)?;
            parse_san(&host)?;
        }
        if self.ca_validity < self.cert_validity {
            return Err(PkiError::Config {
                field: "validity",
                problem: "the CA validity is shorter than the certificate validity".into(),
            });
        }
        self.service_cidr.split(',').map(|c| first_ip_of_cidr(c.trim())).collect()
    }

    /// The URL kubeconfigs use: the control-plane endpoint if set, else the advertise address.
    pub fn server_url(&self) -> Result<String, PkiError> {
        match &self.control_plane_endpoint {
            Some(ep) => {
                let (host, port) = split_host_port(ep)?;
                Ok(format_url(&host, port.unwrap_or(self.bind_port)))
            }
            None => Ok(format_url(&self.advertise_address.to_string(), self.bind_port)),
        }
    }

    /// The three CAs' profiles.
    pub fn ca_profile(&self, ca: CaId) -> Profile {
        Profile {
            common_name: ca.common_name().into(),
            organizations: Vec::new(),
            is_ca: true,
            usage: Usage { server: false, client: false },
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
        }
    }

    /// Every leaf certificate kubeadm writes, in kubeadm's order, with this configuration's SANs.
    pub fn leaves(&self) -> Result<Vec<LeafSpec>, PkiError> {
        let service_ips = self.validate()?;
        let mut out = Vec::with_capacity(LEAF_ROLES.len());
        for role in &LEAF_ROLES {
            let mut profile = role.profile(&self.node_name);
            match role.name {
                "apiserver" => {
                    profile.dns_names = vec![
                        self.node_name.clone(),
                        "kubernetes".into(),
                        "kubernetes.default".into(),
                        "kubernetes.default.svc".into(),
                        format!("kubernetes.default.svc.{}", self.dns_domain),
                    ];
                    profile.ip_addresses = service_ips.clone();
                    profile.ip_addresses.push(self.advertise_address);
                    let mut extra: Vec<String> = self.apiserver_cert_sans.clone();
                    if let Some(ep) = &self.control_plane_endpoint {
                        extra.insert(0, split_host_port(ep)?.0);
                    }
                    for san in extra {
                        match parse_san(&san)? {
                            San::Ip(ip) => profile.ip_addresses.push(ip),
                            San::Dns(d) => profile.dns_names.push(d),
                        }
                    }
                }
                "etcd-server" | "etcd-peer" => {
                    profile.dns_names = vec![self.node_name.clone(), "localhost".into()];
                    profile.ip_addresses = vec![
                        self.advertise_address,
                        IpAddr::from([127, 0, 0, 1]),
                        IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
                    ];
                }
                _ => {}
            }
            dedup(&mut profile.dns_names);
            dedup(&mut profile.ip_addresses);
            out.push(LeafSpec { name: role.name, file_stem: role.file_stem, ca: role.ca, profile });
        }
        Ok(out)
    }

    /// The kubeconfigs kubeadm writes, each with a client cert signed by the cluster CA.
    pub fn kubeconfigs(&self) -> Result<Vec<KubeconfigSpec>, PkiError> {
        let endpoint = self.server_url()?;
        let local = format_url(&self.advertise_address.to_string(), self.bind_port);
        Ok(KUBECONFIG_ROLES
            .iter()
            .map(|role| {
                let profile = role.profile(&self.node_name);
                KubeconfigSpec {
                    file: role.file,
                    user: profile.common_name.clone(),
                    profile,
                    server: if role.local { local.clone() } else { endpoint.clone() },
                }
            })
            .collect())
    }
}

/// A subject CommonName rule: a fixed name, or derived from the node's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cn {
    /// Exactly this name.
    Fixed(&'static str),
    /// The node name (etcd's serving and peer certs).
    NodeName,
    /// `system:node:<node name>` (kubelet.conf).
    NodeUser,
}

impl Cn {
    fn resolve(self, node: &str) -> String {
        match self {
            Cn::Fixed(s) => s.to_owned(),
            Cn::NodeName => node.to_owned(),
            Cn::NodeUser => format!("system:node:{node}"),
        }
    }

    /// Whether `cn` satisfies the rule (any node name is accepted where the rule is node-derived).
    pub fn accepts(self, cn: &str) -> bool {
        match self {
            Cn::Fixed(s) => s == cn,
            Cn::NodeName => is_dns1123_subdomain(cn),
            Cn::NodeUser => cn.strip_prefix("system:node:").is_some_and(|n| !n.is_empty()),
        }
    }

    /// How the rule reads in messages.
    pub fn describe(self) -> String {
        match self {
            Cn::Fixed(s) => format!("CN={s}"),
            Cn::NodeName => "CN=<node name>".into(),
            Cn::NodeUser => "CN=system:node:<node name>".into(),
        }
    }
}

/// What kubeadm requires of one leaf certificate, independent of the cluster's addresses.
#[derive(Debug, Clone, Copy)]
pub struct LeafRole {
    /// kubeadm's name (`apiserver`, `etcd-server`, ...).
    pub name: &'static str,
    /// The file stem under the PKI directory.
    pub file_stem: &'static str,
    /// The signing CA.
    pub ca: CaId,
    /// The CommonName rule.
    pub cn: Cn,
    /// The Organization values (groups).
    pub orgs: &'static [&'static str],
    /// The ExtendedKeyUsage it needs.
    pub usage: Usage,
}

impl LeafRole {
    fn profile(&self, node: &str) -> Profile {
        Profile {
            common_name: self.cn.resolve(node),
            organizations: self.orgs.iter().map(|o| (*o).to_owned()).collect(),
            is_ca: false,
            usage: self.usage,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
        }
    }
}

/// kubeadm's leaf certificates (`certlist.go`), in its order.
pub const LEAF_ROLES: [LeafRole; 7] = [
    LeafRole {
        name: "apiserver",
        file_stem: "apiserver",
        ca: CaId::Cluster,
        cn: Cn::Fixed("kube-apiserver"),
        orgs: &[],
        usage: Usage::SERVER,
    },
    LeafRole {
        name: "apiserver-kubelet-client",
        file_stem: "apiserver-kubelet-client",
        ca: CaId::Cluster,
        cn: Cn::Fixed("kube-apiserver-kubelet-client"),
        orgs: &[MASTERS_GROUP],
        usage: Usage::CLIENT,
    },
    LeafRole {
        name: "front-proxy-client",
        file_stem: "front-proxy-client",
        ca: CaId::FrontProxy,
        cn: Cn::Fixed("front-proxy-client"),
        orgs: &[],
        usage: Usage::CLIENT,
    },
    LeafRole {
        name: "etcd-server",
        file_stem: "etcd/server",
        ca: CaId::Etcd,
        cn: Cn::NodeName,
        orgs: &[],
        usage: Usage::BOTH,
    },
    LeafRole {
        name: "etcd-peer",
        file_stem: "etcd/peer",
        ca: CaId::Etcd,
        cn: Cn::NodeName,
        orgs: &[],
        usage: Usage::BOTH,
    },
    LeafRole {
        name: "etcd-healthcheck-client",
        file_stem: "etcd/healthcheck-client",
        ca: CaId::Etcd,
        cn: Cn::Fixed("kube-etcd-healthcheck-client"),
        orgs: &[MASTERS_GROUP],
        usage: Usage::CLIENT,
    },
    LeafRole {
        name: "apiserver-etcd-client",
        file_stem: "apiserver-etcd-client",
        ca: CaId::Etcd,
        cn: Cn::Fixed("kube-apiserver-etcd-client"),
        orgs: &[MASTERS_GROUP],
        usage: Usage::CLIENT,
    },
];

/// What kubeadm requires of one kubeconfig's client certificate.
#[derive(Debug, Clone, Copy)]
pub struct KubeconfigRole {
    /// The file name.
    pub file: &'static str,
    /// The CommonName rule (the user).
    pub cn: Cn,
    /// The Organization values (groups).
    pub orgs: &'static [&'static str],
    /// Points at the local apiserver rather than the control-plane endpoint.
    pub local: bool,
}

impl KubeconfigRole {
    fn profile(&self, node: &str) -> Profile {
        Profile {
            common_name: self.cn.resolve(node),
            organizations: self.orgs.iter().map(|o| (*o).to_owned()).collect(),
            is_ca: false,
            usage: Usage::CLIENT,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
        }
    }
}

/// kubeadm's kubeconfigs, in its order.
pub const KUBECONFIG_ROLES: [KubeconfigRole; 5] = [
    KubeconfigRole {
        file: "admin.conf",
        cn: Cn::Fixed("kubernetes-admin"),
        orgs: &[CLUSTER_ADMINS_GROUP],
        local: false,
    },
    KubeconfigRole {
        file: "super-admin.conf",
        cn: Cn::Fixed("kubernetes-super-admin"),
        orgs: &[MASTERS_GROUP],
        local: false,
    },
    KubeconfigRole { file: "kubelet.conf", cn: Cn::NodeUser, orgs: &["system:nodes"], local: false },
    KubeconfigRole {
        file: "controller-manager.conf",
        cn: Cn::Fixed("system:kube-controller-manager"),
        orgs: &[],
        local: true,
    },
    KubeconfigRole { file: "scheduler.conf", cn: Cn::Fixed("system:kube-scheduler"), orgs: &[], local: true },
];

/// A subject alternative name given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// A DNS name (possibly a `*.` wildcard).
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

/// Parses a SAN as kubeadm does: an IP if it parses as one, else an RFC 1123 (wildcard) DNS name.
pub fn parse_san(s: &str) -> Result<San, PkiError> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(San::Ip(ip));
    }
    let name = s.strip_prefix("*.").unwrap_or(s);
    if is_dns1123_subdomain(name) {
        Ok(San::Dns(s.to_owned()))
    } else {
        Err(PkiError::Config {
            field: "SAN",
            problem: format!("{s:?} is neither an IP address nor a lowercase RFC 1123 DNS name"),
        })
    }
}

/// The node name kubeadm defaults to: this host's name, lowercased; `localhost` when the host's
/// name is not a valid RFC 1123 subdomain (or cannot be read).
pub fn host_node_name() -> String {
    node_name_from_hostname(&std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default())
}

fn node_name_from_hostname(raw: &str) -> String {
    let name = raw.trim().to_ascii_lowercase();
    if is_dns1123_subdomain(&name) {
        name
    } else {
        "localhost".into()
    }
}

/// The node name an existing PKI was made for: the CommonName of its etcd serving certificate
/// (kubeadm names it after the node), else the first DNS name of its apiserver certificate (the
/// node name comes first there). `None` when the PKI has neither, or neither names a valid node.
///
/// `kauth serve` reuses a data directory made by `kauth pki init`, whose node name defaults to
/// the host's name: planning the certificates for another node name would find the existing
/// ones "missing SANs" and refuse to start.
pub fn existing_node_name(layout: &super::layout::Layout) -> Result<Option<String>, PkiError> {
    let valid = |n: &String| is_dns1123_subdomain(n);
    if let Some(cert) = layout.load_cert("etcd/server")? {
        if let Some(cn) = cert.common_name.filter(valid) {
            return Ok(Some(cn));
        }
    }
    Ok(layout.load_cert("apiserver")?.and_then(|c| c.dns_names.into_iter().next()).filter(valid))
}

/// RFC 1123 subdomain as Kubernetes validates it: at most 253 characters, dot-separated labels of
/// lowercase alphanumerics and `-`, each starting and ending with an alphanumeric.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// The first usable address of a CIDR (network address + 1): the `kubernetes` service IP.
pub fn first_ip_of_cidr(cidr: &str) -> Result<IpAddr, PkiError> {
    let bad = |why: &str| PkiError::Config { field: "service CIDR", problem: format!("{cidr:?}: {why}") };
    let (addr, len) = cidr.split_once('/').ok_or_else(|| bad("expected ADDRESS/PREFIX"))?;
    let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
    let len: u32 = len.parse().map_err(|_| bad("prefix length is not a number"))?;
    match addr {
        IpAddr::V4(v4) => {
            if len > 30 {
                return Err(bad("prefix must be at most /30 to leave room for services"));
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            Ok(IpAddr::V4(std::net::Ipv4Addr::from((u32::from(v4) & mask) + 1)))
        }
        IpAddr::V6(v6) => {
            if len > 126 {
                return Err(bad("prefix must be at most /126 to leave room for services"));
            }
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            Ok(IpAddr::V6(std::net::Ipv6Addr::from((u128::from(v6) & mask) + 1)))
        }
    }
}

/// Splits `host[:port]`, accepting `[v6]:port` and a bare IPv6 address.
pub fn split_host_port(s: &str) -> Result<(String, Option<u16>), PkiError> {
    let bad =
        || PkiError::Config { field: "control-plane endpoint", problem: format!("{s:?} is not HOST or HOST:PORT") };
    if s.parse::<IpAddr>().is_ok() {
        return Ok((s.to_owned(), None));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        return Ok((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_owned(), Some(port.parse().map_err(|_| bad())?))),
        None if !s.is_empty() => Ok((s.to_owned(), None)),
        None => Err(bad()),
    }
}

fn format_url(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    }
}

fn dedup<T: PartialEq + Clone>(v: &mut Vec<T>) {
    let mut seen: Vec<T> = Vec::with_capacity(v.len());
    v.retain(|x| {
        if seen.contains(x) {
            false
        } else {
            seen.push(x.clone());
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_service_ip() {
        assert_eq!(first_ip_of_cidr("10.96.0.0/12").unwrap(), "10.96.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(first_ip_of_cidr("10.96.7.9/12").unwrap(), "10.96.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(first_ip_of_cidr("fd00:10:96::/112").unwrap(), "fd00:10:96::1".parse::<IpAddr>().unwrap());
        assert!(first_ip_of_cidr("10.96.0.0").is_err());
        assert!(first_ip_of_cidr("10.96.0.0/32").is_err());
        assert!(first_ip_of_cidr("nope/12").is_err());
    }

    #[test]
    fn the_host_name_becomes_the_node_name_when_it_is_one() {
        assert_eq!(node_name_from_hostname("CP-1.Example.com\n"), "cp-1.example.com");
        assert_eq!(node_name_from_hostname("worker_3"), "localhost");
        assert_eq!(node_name_from_hostname(""), "localhost");
        assert!(is_dns1123_subdomain(&host_node_name()));
    }

    #[test]
    fn an_existing_pki_names_its_node() {
        let dir = tempfile::tempdir().unwrap();
        let layout = super::super::layout::Layout::new(dir.path());
        assert_eq!(existing_node_name(&layout).unwrap(), None, "no PKI, no node name");
        let cfg = PkiConfig { node_name: "cp-1".into(), key_type: KeyType::EcdsaP256, ..PkiConfig::default() };
        super::super::init::init(&layout, &cfg, false, time::OffsetDateTime::now_utc()).unwrap();
        assert_eq!(existing_node_name(&layout).unwrap().as_deref(), Some("cp-1"));
        // Without the etcd serving cert, the apiserver cert's first DNS name.
        std::fs::remove_file(layout.cert_path("etcd/server")).unwrap();
        assert_eq!(existing_node_name(&layout).unwrap().as_deref(), Some("cp-1"));
        // A certificate that does not parse is an error, not a guess.
        std::fs::write(layout.cert_path("apiserver"), "not a certificate").unwrap();
        assert!(existing_node_name(&layout).is_err());
    }

    #[test]
    fn sans_and_endpoints() {
        assert_eq!(parse_san("10.0.0.1").unwrap(), San::Ip("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_san("*.example.com").unwrap(), San::Dns("*.example.com".into()));
        assert!(parse_san("Bad_Name").is_err());
        assert_eq!(split_host_port("lb.example.com:443").unwrap(), ("lb.example.com".into(), Some(443)));
        assert_eq!(split_host_port("[::1]:6443").unwrap(), ("::1".into(), Some(6443)));
        assert_eq!(split_host_port("::1").unwrap(), ("::1".into(), None));
        assert!(split_host_port("h:notaport").is_err());
    }

    #[test]
    fn apiserver_sans_follow_kubeadm() {
        let cfg = PkiConfig {
            node_name: "cp-1".into(),
            control_plane_endpoint: Some("lb.example.com:6443".into()),
            apiserver_cert_sans: vec!["10.0.0.9".into(), "api.example.com".into()],
            ..PkiConfig::default()
        };
        let leaves = cfg.leaves().unwrap();
        let api = &leaves[0].profile;
        assert_eq!(
            api.dns_names,
            [
                "cp-1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "lb.example.com",
                "api.example.com"
            ]
        );
        let ips: Vec<String> = api.ip_addresses.iter().map(|i| i.to_string()).collect();
        assert_eq!(ips, ["10.96.0.1", "127.0.0.1", "10.0.0.9"]);
        assert_eq!(cfg.server_url().unwrap(), "https://lb.example.com:6443");
    }
}
