//! The dependency graph checks: self edges, repeated and dangling edges, and cycles, each
//! reported once.

use std::collections::HashMap;

use toml::Spanned;

use super::reader::{Ctx, closest};
use super::service::RawService;

/// Dangling and self edges, then cycles, each reported once. Runs on every service as
/// written, so a service rejected for another reason still counts as existing.
pub(super) fn check_graph(ctx: &mut Ctx, services: &[RawService]) {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, r) in services.iter().enumerate() {
        if let Some(id) = &r.id {
            index.entry(id.get_ref().as_str()).or_insert(i);
        }
    }
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); services.len()];
    for (i, r) in services.iter().enumerate() {
        let Some(own_id) = r.id.as_ref().map(|x| x.get_ref().as_str()) else {
            continue;
        };
        if index.get(own_id) != Some(&i) {
            continue; // a duplicate: reported where services are resolved
        }
        let what = format!("service \"{own_id}\"");
        let mut seen_deps: Vec<&str> = Vec::new();
        for (dep, span) in &r.deps {
            if dep.id == own_id {
                ctx.error(span.clone(), format!("{what} depends on itself"));
                continue;
            }
            if seen_deps.contains(&dep.id.as_str()) {
                ctx.error(
                    span.clone(),
                    format!("{what} lists dependency \"{}\" twice", dep.id),
                );
                continue;
            }
            seen_deps.push(&dep.id);
            match index.get(dep.id.as_str()) {
                Some(&j) => edges[i].push(j),
                None => {
                    let hint = closest(&dep.id, index.keys().copied().filter(|k| *k != own_id))
                        .map_or_else(String::new, |c| format!(" (did you mean \"{c}\"?)"));
                    ctx.error(
                        span.clone(),
                        format!(
                            "{what} depends on \"{}\", which is not a service in this estate{hint}",
                            dep.id
                        ),
                    );
                }
            }
        }
    }
    let name = |i: usize| {
        services[i]
            .id
            .as_ref()
            .map_or_else(String::new, |x| x.get_ref().clone())
    };
    // Depth-first search with colours; every back edge closes one cycle.
    let mut colour = vec![0u8; services.len()];
    let mut stack: Vec<usize> = Vec::new();
    let mut reported: Vec<Vec<usize>> = Vec::new();
    for start in 0..services.len() {
        if colour[start] == 0 {
            dfs(start, &edges, &mut colour, &mut stack, &mut |cycle| {
                let mut key = cycle.to_vec();
                key.sort_unstable();
                if reported.contains(&key) {
                    return;
                }
                reported.push(key);
                let names: Vec<String> = cycle
                    .iter()
                    .chain(cycle.first())
                    .map(|&i| format!("\"{}\"", name(i)))
                    .collect();
                let span = services[cycle[0]]
                    .id
                    .as_ref()
                    .map_or_else(|| services[cycle[0]].span.clone(), Spanned::span);
                ctx.error(span, format!("dependency cycle: {}", names.join(" → ")));
            });
        }
    }
}

fn dfs(
    node: usize,
    edges: &[Vec<usize>],
    colour: &mut [u8],
    stack: &mut Vec<usize>,
    on_cycle: &mut dyn FnMut(&[usize]),
) {
    colour[node] = 1;
    stack.push(node);
    for &next in &edges[node] {
        match colour[next] {
            0 => dfs(next, edges, colour, stack, on_cycle),
            1 => {
                if let Some(pos) = stack.iter().position(|&n| n == next) {
                    on_cycle(&stack[pos..]);
                }
            }
            _ => {}
        }
    }
    stack.pop();
    colour[node] = 2;
}
