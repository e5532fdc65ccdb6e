//! The local stack's container image, started from Rust tests with testcontainers, the
//! way one starts LocalStack (cargo feature `testcontainers`).
//!
//! The image is built from this repository by `scripts/build-image.sh` (no registry holds
//! it). [`start`] checks that a Docker engine answers and that the image is there before
//! anything else, so a missing image is an error naming the script, never a pull. It
//! publishes the AWS endpoint (4566) and the load balancer's listener (8080) on free host
//! ports and tells the stack where its load balancer is reached from the host
//! (`DRDRILL_LB_ADVERTISE`), so that a drill's `aws:` target pointed at
//! [`RunningLocalStack::endpoint_url`] finds the load balancer through DescribeLoadBalancers
//! as it would in AWS.
//!
//! ```no_run
//! # async fn demo() -> Result<(), drdrill_localstack::container::ContainerError> {
//! use drdrill_localstack::container::{start, LocalStackImage};
//!
//! let stack = start(LocalStackImage::default().with_stack("/etc/drdrill/stacks/multi-az.yaml")).await?;
//! println!("AWS endpoint {}", stack.endpoint_url()); // e.g. http://127.0.0.1:40123
//! println!("load balancer {}", stack.load_balancer_url());
//! stack.stop().await?;
//! # Ok(()) }
//! ```
//!
//! The helper assumes a local engine (published ports reached on 127.0.0.1).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use testcontainers::bollard;
use testcontainers::core::wait::HttpWaitStrategy;
use testcontainers::core::{ContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, Image, ImageExt};

/// The image `scripts/build-image.sh` builds (its `DRDRILL_IMAGE` changes it).
pub const DEFAULT_IMAGE: &str = "drdrill/localstack:local";
/// The AWS endpoint's port inside the container.
pub const API_PORT: u16 = 4566;
/// The load balancer listener's port inside the container.
pub const LB_PORT: u16 = 8080;
/// The health endpoint, answered like LocalStack's.
pub const HEALTH_PATH: &str = "/_localstack/health";

const PORTS: [ContainerPort; 2] = [ContainerPort::Tcp(API_PORT), ContainerPort::Tcp(LB_PORT)];

/// How long [`start`] waits for the engine's first answer.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`start`] waits for the health endpoint.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the container could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// No Docker engine answered.
    #[error("no Docker engine: {0}")]
    NoEngine(String),
    /// The image is not in the engine (it is built locally, never pulled).
    #[error("image {0} is not built; run scripts/build-image.sh")]
    ImageMissing(String),
    /// No free host port could be found.
    #[error("cannot find a free host port: {0}")]
    Port(#[source] std::io::Error),
    /// testcontainers failed (creating, starting, waiting for health, stopping).
    #[error(transparent)]
    Testcontainers(#[from] testcontainers::TestcontainersError),
}

/// The local stack's image, with the environment the container starts with.
#[derive(Debug, Clone)]
pub struct LocalStackImage {
    name: String,
    tag: String,
    env: BTreeMap<String, String>,
}

impl Default for LocalStackImage {
    /// `DRDRILL_IMAGE` when set (`name:tag`), else [`DEFAULT_IMAGE`].
    fn default() -> Self {
        let image = std::env::var("DRDRILL_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_string());
        LocalStackImage::new(&image)
    }
}

impl LocalStackImage {
    /// The image `name:tag` (`latest` when no tag is given).
    pub fn new(image: &str) -> LocalStackImage {
        let (name, tag) = match image.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, t),
            _ => (image, "latest"),
        };
        LocalStackImage {
            name: name.to_string(),
            tag: tag.to_string(),
            env: BTreeMap::new(),
        }
    }

    /// The stack file to serve, as a path inside the container (`DRDRILL_STACK`); the
    /// bundled ones are under `/etc/drdrill/stacks/`.
    pub fn with_stack(self, path_in_container: &str) -> LocalStackImage {
        self.with_var("DRDRILL_STACK", path_in_container)
    }

    /// Any other environment variable of the container (`RUST_LOG`, ...).
    pub fn with_var(mut self, name: &str, value: &str) -> LocalStackImage {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    /// `name:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }
}

impl Image for LocalStackImage {
    fn name(&self) -> &str {
        &self.name
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::http(
            HttpWaitStrategy::new(HEALTH_PATH)
                .with_port(ContainerPort::Tcp(API_PORT))
                .with_poll_interval(Duration::from_millis(100))
                .with_expected_status_code(200u16),
        )]
    }

    fn env_vars(&self) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &PORTS
    }
}

/// A started container of the local stack; [`RunningLocalStack::stop`] removes it
/// (dropping it removes it too, in the background).
pub struct RunningLocalStack {
    container: ContainerAsync<LocalStackImage>,
    api_port: u16,
    lb_port: u16,
    engine: String,
}

impl RunningLocalStack {
    /// The AWS endpoint as the host reaches it (`http://127.0.0.1:PORT`): the value for a
    /// scenario's `target.aws.endpoint_url` or `AWS_ENDPOINT_URL`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// The load balancer's listener as the host reaches it, which is also what
    /// DescribeLoadBalancers and DescribeListeners report.
    pub fn load_balancer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.lb_port)
    }

    /// The engine's version (`docker version`), for logs.
    pub fn engine_version(&self) -> &str {
        &self.engine
    }

    /// The testcontainers handle (logs, exec, id).
    pub fn container(&self) -> &ContainerAsync<LocalStackImage> {
        &self.container
    }

    /// Stops the container (SIGTERM: the stack stops its experiments first) and removes it.
    pub async fn stop(self) -> Result<(), ContainerError> {
        self.container.stop_with_timeout(Some(10)).await?;
        self.container.rm().await?;
        Ok(())
    }
}

/// Starts the image and waits until its health endpoint answers 200.
///
/// Fails with [`ContainerError::NoEngine`] when no Docker engine answers and with
/// [`ContainerError::ImageMissing`] when the image is not built, before creating anything.
pub async fn start(image: LocalStackImage) -> Result<RunningLocalStack, ContainerError> {
    let engine = engine_version().await?;
    image_present(&image.reference()).await?;
    let mut attempt = 1;
    loop {
        let api_port = free_port()?;
        let lb_port = free_port()?;
        // Named, so that a container created but never started can be removed.
        let name = format!("drdrill-localstack-{}", uuid::Uuid::new_v4().simple());
        let started = image
            .clone()
            .with_container_name(&name)
            .with_env_var("DRDRILL_LB_ADVERTISE", format!("127.0.0.1:{lb_port}"))
            .with_mapped_port(api_port, ContainerPort::Tcp(API_PORT))
            .with_mapped_port(lb_port, ContainerPort::Tcp(LB_PORT))
            .with_startup_timeout(STARTUP_TIMEOUT)
            .start()
            .await;
        let e = match started {
            Ok(container) => {
                return Ok(RunningLocalStack {
                    container,
                    api_port,
                    lb_port,
                    engine,
                })
            }
            Err(e) => e,
        };
        remove_quietly(&name).await;
        if attempt < PORT_ATTEMPTS && port_taken(&e) {
            // Another process took a port between our pick and the engine's bind.
            tracing::debug!(attempt, error = %e, "host port taken; picking new ones");
            attempt += 1;
            continue;
        }
        return Err(e.into());
    }
}

/// Removes the named container if it exists (best effort: it may never have been created).
async fn remove_quietly(name: &str) {
    if let Ok(docker) = bollard::Docker::connect_with_defaults() {
        let opts = bollard::query_parameters::RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let _ = tokio::time::timeout(ENGINE_TIMEOUT, docker.remove_container(name, Some(opts))).await;
    }
}

/// How many times [`start`] picks new host ports when one was taken meanwhile.
const PORT_ATTEMPTS: u32 = 3;

/// Whether the engine refused a published port because something else holds it.
fn port_taken(e: &testcontainers::TestcontainersError) -> bool {
    let msg = e.to_string();
    msg.contains("address already in use") || msg.contains("port is already allocated")
}

/// The version of the engine that `DOCKER_HOST` (or the default socket) leads to.
async fn engine_version() -> Result<String, ContainerError> {
    let docker = bollard::Docker::connect_with_defaults().map_err(|e| ContainerError::NoEngine(e.to_string()))?;
    match tokio::time::timeout(ENGINE_TIMEOUT, docker.version()).await {
        Ok(Ok(v)) => Ok(v.version.unwrap_or_else(|| "unknown".into())),
        Ok(Err(e)) => Err(ContainerError::NoEngine(e.to_string())),
        Err(_) => Err(ContainerError::NoEngine(format!(
            "the engine did not answer within {ENGINE_TIMEOUT:?}"
        ))),
    }
}

/// Whether the engine has the image; a missing one is an error, never a pull.
async fn image_present(reference: &str) -> Result<(), ContainerError> {
    let docker = bollard::Docker::connect_with_defaults().map_err(|e| ContainerError::NoEngine(e.to_string()))?;
    match tokio::time::timeout(ENGINE_TIMEOUT, docker.inspect_image(reference)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })) => {
            Err(ContainerError::ImageMissing(reference.to_string()))
        }
        Ok(Err(e)) => Err(ContainerError::NoEngine(e.to_string())),
        Err(_) => Err(ContainerError::NoEngine(format!(
            "the engine did not answer within {ENGINE_TIMEOUT:?}"
        ))),
    }
}

/// A port free on the host now (the engine binds it moments later). Free on every
/// address: the engine publishes on 0.0.0.0, which any socket bound to the same port on
/// one loopback address refuses (the embedded stacks of tests running beside this bind
/// ports on many 127.x.y.z addresses), so the pick is a wildcard bind too.
fn free_port() -> Result<u16, ContainerError> {
    let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(ContainerError::Port)?;
    Ok(l.local_addr().map_err(ContainerError::Port)?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Image references split into name and tag; a registry port is not taken for a tag.
    #[test]
    fn image_reference_splits_name_and_tag() {
        let i = LocalStackImage::new("drdrill/localstack:local");
        assert_eq!((i.name(), i.tag()), ("drdrill/localstack", "local"));
        let i = LocalStackImage::new("registry.example:5000/drdrill/localstack");
        assert_eq!(
            (i.name(), i.tag()),
            ("registry.example:5000/drdrill/localstack", "latest")
        );
        assert_eq!(i.reference(), "registry.example:5000/drdrill/localstack:latest");
    }

    /// The stack file and extra variables reach the container's environment.
    #[test]
    fn environment_carries_stack_and_variables() {
        let i = LocalStackImage::new("x:y")
            .with_stack("/etc/drdrill/stacks/async-replica.yaml")
            .with_var("RUST_LOG", "debug");
        let env: Vec<(String, String)> = i
            .env_vars()
            .into_iter()
            .map(|(k, v)| (k.into().into_owned(), v.into().into_owned()))
            .collect();
        assert!(env.contains(&("DRDRILL_STACK".into(), "/etc/drdrill/stacks/async-replica.yaml".into())));
        assert!(env.contains(&("RUST_LOG".into(), "debug".into())));
    }
}
