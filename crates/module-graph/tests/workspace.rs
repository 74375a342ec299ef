//! The workspace's crates have no module cycles (the issue "kauth-server in layers": each layer
//! uses only the ones below it).

use std::path::Path;

#[test]
fn no_crate_of_the_workspace_has_a_module_cycle() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut report = String::new();
    for name in ["kauth", "kauth-server", "kauth-cli", "module-graph"] {
        let graph = module_graph::Graph::read(&crates.join(name).join("src")).expect("crate sources read");
        assert!(graph.edges.len() > 1 || name == "module-graph", "{name}: no modules found");
        for c in graph.cycles() {
            report.push_str(&format!(
                "{name}: cycle among {}\n  {}\n",
                c.join(", "),
                graph.edges_within(&c).join("\n  ")
            ));
        }
    }
    assert!(report.is_empty(), "module cycles:\n{report}");
}
