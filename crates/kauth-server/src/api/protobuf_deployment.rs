//! An apps/v1 Deployment from protobuf: what `kubectl create deployment` sends (its typed client
//! speaks protobuf). The fields kubectl sets are converted (replicas, selector, the pod
//! template's labels and containers with name, image, command, args and ports, strategy);
//! a body with any other field set is refused with 415, naming JSON as the way, rather than
//! stored with that field silently dropped: every converted field is taken out of the decoded
//! message, and what is left must hold only zero values (Go's protobuf writes its non-pointer
//! fields even when zero: `hostPort: 0`, `paused: false`, an empty `status`).

use k8s_pb::api::{apps::v1 as apps, core::v1 as core};
use prost::Message;
use serde_json::{json, Value};

use super::protobuf_json::{decode, label_selector, object_meta, Obj};
use super::status::ApiError;

/// How deep [`only_zeros`] follows nested messages. kubectl's Deployment nests a handful of
/// levels; a body nesting deeper is refused (as not zero) rather than followed, so a client
/// cannot make the check recurse until the stack overflows.
const MAX_DEPTH: usize = 32;

/// Whether an encoded message holds only zero values: varints of 0, empty strings, and nested
/// messages of zeros (read with prost's wire-format functions), at most [`MAX_DEPTH`] deep.
///
/// The wire does not say whether a length-delimited field is a string or a message: a
/// non-empty string whose bytes happen to read as a message of zeros (`"\u{8}\0"`) counts as
/// zero. No field kubectl sends holds such a value.
fn only_zeros(buf: &[u8]) -> bool {
    zeros_within(buf, MAX_DEPTH)
}

fn zeros_within(mut buf: &[u8], depth: usize) -> bool {
    use prost::encoding::{decode_key, decode_varint, WireType};
    while !buf.is_empty() {
        let Ok((_, wire)) = decode_key(&mut buf) else { return false };
        let zero = match wire {
            WireType::Varint => decode_varint(&mut buf).is_ok_and(|v| v == 0),
            WireType::LengthDelimited => {
                let Ok(len) = decode_varint(&mut buf) else { return false };
                let Ok(len) = usize::try_from(len) else { return false };
                if len > buf.len() {
                    return false;
                }
                let (inner, rest) = buf.split_at(len);
                buf = rest;
                inner.is_empty() || depth > 0 && zeros_within(inner, depth - 1)
            }
            WireType::SixtyFourBit if buf.len() >= 8 => {
                let (v, rest) = buf.split_at(8);
                buf = rest;
                v.iter().all(|b| *b == 0)
            }
            WireType::ThirtyTwoBit if buf.len() >= 4 => {
                let (v, rest) = buf.split_at(4);
                buf = rest;
                v.iter().all(|b| *b == 0)
            }
            _ => false,
        };
        if !zero {
            return false;
        }
    }
    true
}

/// Whether what is left of a message after conversion is nothing but Go's zero values.
fn zero<M: Message>(m: &M) -> bool {
    only_zeros(&m.encode_to_vec())
}

fn unsupported(what: &str) -> ApiError {
    ApiError {
        code: 415,
        reason: "UnsupportedMediaType",
        message: format!(
            "kauth decodes from protobuf only the Deployment fields kubectl create deployment sets, not {what}; send application/json"
        ),
        details: None,
    }
}

fn container(mut c: core::Container) -> Result<Value, ApiError> {
    let ports: Vec<Value> = std::mem::take(&mut c.ports)
        .into_iter()
        .map(|mut p| {
            let v = Obj::new()
                .s_omitempty("name", &p.name.take())
                .i("containerPort", p.container_port.take().map(i64::from))
                .s_omitempty("protocol", &p.protocol.take())
                .done();
            if zero(&p) {
                Ok(v)
            } else {
                Err(unsupported("this container port's fields"))
            }
        })
        .collect::<Result<_, _>>()?;
    let resources = match c.resources.take() {
        Some(r) if zero(&r) => Some(json!({})),
        Some(_) => return Err(unsupported("container resources")),
        None => None,
    };
    let v = Obj::new()
        .s("name", &c.name.take())
        .s_omitempty("image", &c.image.take())
        .list("command", &std::mem::take(&mut c.command))
        .list("args", &std::mem::take(&mut c.args))
        .objs("ports", ports)
        .v("resources", resources)
        .done();
    if !zero(&c) {
        return Err(unsupported("this container's fields"));
    }
    Ok(v)
}

fn template(mut t: core::PodTemplateSpec) -> Result<Value, ApiError> {
    let meta = object_meta(&t.metadata.take());
    let spec = match t.spec.take() {
        None => None,
        Some(mut s) => {
            let containers: Vec<Value> =
                std::mem::take(&mut s.containers).into_iter().map(container).collect::<Result<_, _>>()?;
            if !zero(&s) {
                return Err(unsupported("pod spec fields other than containers"));
            }
            Some(json!({"containers": containers}))
        }
    };
    Ok(Obj::new().v("metadata", meta).v("spec", spec).done())
}

/// The JSON body of a protobuf Deployment (without apiVersion and kind).
pub fn deployment(raw: &[u8]) -> Result<Obj, ApiError> {
    let mut d: apps::Deployment = decode("Deployment", raw)?;
    let meta = object_meta(&d.metadata.take());
    let spec = match d.spec.take() {
        None => None,
        Some(mut s) => {
            let strategy = match s.strategy.take() {
                None => None,
                Some(mut st) => {
                    let v = Obj::new().s_omitempty("type", &st.r#type.take()).done();
                    if !zero(&st) {
                        return Err(unsupported("the rolling update parameters"));
                    }
                    Some(v)
                }
            };
            let v = Obj::new()
                .i("replicas", s.replicas.take().map(i64::from))
                .v("selector", s.selector.take().map(|l| label_selector(&l)))
                .v("template", s.template.take().map(template).transpose()?)
                .v("strategy", strategy)
                .done();
            if !zero(&s) {
                return Err(unsupported("deployment spec fields other than replicas, selector, template and strategy"));
            }
            Some(v)
        }
    };
    if d.status.take().is_some_and(|s| !zero(&s)) {
        return Err(unsupported("a status"));
    }
    Ok(Obj::new().v("metadata", meta).v("spec", spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(d: &apps::Deployment) -> Vec<u8> {
        d.encode_to_vec()
    }

    /// A field of `depth` nested length-delimited frames around a zero varint.
    fn nested(depth: usize) -> Vec<u8> {
        let mut buf = vec![0x08, 0x00];
        for _ in 0..depth {
            let mut outer = vec![0x0a];
            prost::encoding::encode_varint(buf.len() as u64, &mut outer);
            outer.extend_from_slice(&buf);
            buf = outer;
        }
        buf
    }

    #[test]
    fn deep_nesting_is_refused_not_followed() {
        assert!(only_zeros(&nested(3)));
        assert!(only_zeros(&nested(MAX_DEPTH)));
        assert!(!only_zeros(&nested(MAX_DEPTH + 1)));
        // Refused at the cap, whatever the depth below it.
        assert!(!only_zeros(&nested(5_000)));
        assert!(!only_zeros(&[0x08, 0x01]));
        assert!(only_zeros(&[0x0a, 0x00]));
    }

    #[test]
    fn kubectl_s_deployment_converts_and_other_fields_are_refused() {
        let c = core::Container {
            name: Some("nginx".into()),
            image: Some("nginx".into()),
            // Go writes its zero values: they are not fields set.
            ports: vec![core::ContainerPort {
                container_port: Some(80),
                host_port: Some(0),
                host_ip: Some(String::new()),
                ..Default::default()
            }],
            tty: Some(false),
            resources: Some(Default::default()),
            ..Default::default()
        };
        let mut d = apps::Deployment {
            spec: Some(apps::DeploymentSpec {
                replicas: Some(2),
                template: Some(core::PodTemplateSpec {
                    spec: Some(core::PodSpec { containers: vec![c], ..Default::default() }),
                    ..Default::default()
                }),
                strategy: Some(Default::default()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let v = deployment(&encode(&d)).unwrap().done();
        assert_eq!(v["spec"]["replicas"], 2);
        assert_eq!(v["spec"]["strategy"], json!({}));
        assert_eq!(
            v["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {}})
        );
        if let Some(s) = d.spec.as_mut() {
            s.paused = Some(true);
        }
        assert_eq!(deployment(&encode(&d)).err().map(|e| e.code), Some(415));
    }
}
