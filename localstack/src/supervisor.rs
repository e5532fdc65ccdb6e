//! The data plane's supervisor: it spawns every task a region runs — its app servers, its
//! load balancer's proxy and health checkers, its ticker — at start, and later whenever
//! the world asks for one (an instance boots again, a target is registered).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::InitialState;
use crate::world::{Tasks, World};
use crate::{app, lb};

/// Spawns app servers ([`crate::app`]) and health checkers ([`crate::lb`]) for the world.
#[derive(Debug, Clone, Copy, Default)]
pub struct Supervisor;

impl Tasks for Supervisor {
    fn serve_app(
        &self,
        world: Arc<World>,
        id: String,
        subnet: String,
        listener: TcpListener,
        token: CancellationToken,
    ) {
        app::spawn(world, id, subnet, listener, token);
    }

    fn check_target(&self, world: Arc<World>, id: String, generation: u64) {
        lb::spawn_health_checker(world, id, generation);
    }
}

/// Serves every instance that starts running on the listener bound for it; an instance
/// that starts stopped keeps its address, and its server starts when the instance does.
pub fn serve_instances(world: &Arc<World>, listeners: HashMap<String, TcpListener>) {
    for (id, listener) in listeners {
        let Some(inst) = world.stack.instances.iter().find(|i| i.id == id) else {
            continue;
        };
        if inst.state == InitialState::Stopped {
            continue;
        }
        let subnet = inst.subnet.clone();
        let token = world.shutdown.child_token();
        world.attach_server(&id, token.clone());
        app::spawn(world.clone(), id, subnet, listener, token);
    }
}

/// Starts the region's load balancer on `listener` (its proxy and one health checker per
/// registered target) and the world's ticker, then records whether the region serves.
pub fn start_load_balancer(world: &Arc<World>, listener: TcpListener) {
    if let Ok(addr) = listener.local_addr() {
        world.set_lb_addr(addr);
    }
    lb::spawn_proxy(world.clone(), listener, world.shutdown.child_token());
    for t in world.targets() {
        lb::spawn_health_checker(world.clone(), t.id.clone(), 0);
    }
    tokio::spawn(world.clone().run_ticker(world.shutdown.child_token()));
    world.record_initial_serving();
}
