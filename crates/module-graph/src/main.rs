//! `module-graph SRC_DIR...`: prints the module cycles of each crate source directory and
//! exits 1 when there is one.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        eprintln!("usage: module-graph SRC_DIR...");
        return ExitCode::from(2);
    }
    let mut failed = false;
    for dir in &dirs {
        match module_graph::Graph::read(dir) {
            Err(e) => {
                eprintln!("module-graph: {e}");
                return ExitCode::from(2);
            }
            Ok(graph) => {
                let cycles = graph.cycles();
                println!("{}: {} modules, {} cycles", dir.display(), graph.edges.len(), cycles.len());
                for c in &cycles {
                    failed = true;
                    println!("  cycle among {}:", c.join(", "));
                    for e in graph.edges_within(c) {
                        println!("    {e}");
                    }
                }
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
