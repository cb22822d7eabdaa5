//! Target dependency order.
//!
//! A depth-first walk from the requested targets gives both the build order
//! (every target after its dependencies) and, when it meets a target that is
//! still on its own path, the exact cycle to name in the error: a user
//! fixes a cycle by reading it, so the message lists it edge by edge.

/// `deps[i]` are the indices target `i` depends on. Returns the targets
/// reachable from `roots`, dependencies first.
pub fn build_order(
    names: &[String],
    deps: &[Vec<usize>],
    roots: &[usize],
) -> Result<Vec<usize>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        i: usize,
        names: &[String],
        deps: &[Vec<usize>],
        mark: &mut [Mark],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), String> {
        match mark[i] {
            Mark::Done => return Ok(()),
            Mark::OnPath => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle: Vec<&str> =
                    path[start..].iter().map(|&p| names[p].as_str()).collect();
                cycle.push(&names[i]);
                return Err(format!("dependency cycle: {}", cycle.join(" -> ")));
            }
            Mark::New => {}
        }
        mark[i] = Mark::OnPath;
        path.push(i);
        for &d in &deps[i] {
            visit(d, names, deps, mark, path, order)?;
        }
        path.pop();
        mark[i] = Mark::Done;
        order.push(i);
        Ok(())
    }
    let mut mark = vec![Mark::New; names.len()];
    let mut order = Vec::new();
    for &r in roots {
        visit(r, names, deps, &mut mark, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

/// Every target `i` depends on, directly or not, nearest first and each
/// once: the order in which a linker must see their archives.
pub fn transitive(deps: &[Vec<usize>], i: usize) -> Vec<usize> {
    // The reverse of a dependencies-first order puts every target before
    // what it needs, so `a -> b -> c` with `a -> c` still links c after b.
    let order = build_order(&vec![String::new(); deps.len()], deps, &deps[i]).unwrap_or_default();
    order.into_iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dependencies_come_first() {
        let n = names(&["app", "net", "util"]);
        let d = vec![vec![1, 2], vec![2], vec![]];
        assert_eq!(build_order(&n, &d, &[0]).unwrap(), vec![2, 1, 0]);
        assert_eq!(build_order(&n, &d, &[1]).unwrap(), vec![2, 1]);
    }

    #[test]
    fn cycle_is_named_edge_by_edge() {
        let n = names(&["app", "a", "b"]);
        let d = vec![vec![1], vec![2], vec![1]];
        assert_eq!(
            build_order(&n, &d, &[0]).unwrap_err(),
            "dependency cycle: a -> b -> a"
        );
    }

    #[test]
    fn link_order_puts_dependencies_after_their_users() {
        // app -> net, app -> util, net -> util: util must follow net.
        let d = vec![vec![2, 1], vec![2], vec![]];
        assert_eq!(transitive(&d, 0), vec![1, 2]);
    }
}
