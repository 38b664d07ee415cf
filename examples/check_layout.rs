//! `scripts/check-layout`: holds `src/` to the module map of the design. It reads every module with a
//! Rust parser (following `mod` declarations from `lib.rs`, `#[path]` included), resolves every path it
//! names (`use` trees, and inline `crate::`, `self::`, `super::` and child-module paths) to the module
//! it points into, and fails when:
//! - a room imports a room above it, or a room of its own layer listed after it in [`ROOMS`] (so no two
//!   rooms ever import each other, and nothing below `cli` imports `cli`);
//! - an `sqlx` path appears outside `src/store`;
//! - files import each other in a circle (the parts of a room may use what the room's front file
//!   defines, since the front file only declares and re-exports them);
//! - a top-level module is not in [`ROOMS`].
//!
//! It lists, without failing, files over 600 lines and functions over 80 lines.
//!
//! Usage: `check_layout [SRC_DIR]` (default `src`); exit 0 clean, 1 on a violation, 2 on a read error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use syn::visit::Visit;

/// The rooms, bottom to top, in layers. A room may import rooms of lower layers, and rooms listed
/// before it in its own layer.
const ROOMS: &[&[&str]] = &[
    &[
        "clock",
        "failpoint",
        "machine",
        "store",
        "config",
        "message",
        "templates",
        "metrics",
    ],
    &["classify"],
    &["mailbox", "outbox", "actions"],
    &["lists", "team", "handover", "records"],
    &["worker"],
    &["cli"],
    &["main"],
];

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

/// One module: its path from the crate root and the file it is written in.
#[derive(Debug, Clone)]
struct Module {
    path: Vec<String>,
    file: PathBuf,
    /// Paths named in it: (path as written, line).
    refs: Vec<(Vec<String>, usize)>,
    /// Names a `use` brought into scope that may name modules: alias → full path as written.
    aliases: BTreeMap<String, Vec<String>>,
}

/// What the check found.
#[derive(Debug, Default)]
struct Findings {
    violations: Vec<String>,
    notes: Vec<String>,
}

fn main() -> ExitCode {
    let src = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("src"), PathBuf::from);
    match check(&src) {
        Ok(found) => {
            for note in &found.notes {
                println!("note: {note}");
            }
            for v in &found.violations {
                println!("violation: {v}");
            }
            if found.violations.is_empty() {
                println!("layout: ok ({} notes)", found.notes.len());
                ExitCode::SUCCESS
            } else {
                println!("layout: {} violation(s)", found.violations.len());
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("check-layout: {e}");
            ExitCode::from(2)
        }
    }
}

/// Reads the crate under `src` and checks it.
fn check(src: &Path) -> Result<Findings, String> {
    let mut modules = Vec::new();
    load(&src.join("lib.rs"), Vec::new(), &mut modules)?;
    let main = src.join("main.rs");
    if main.is_file() {
        load(&main, vec!["main".to_owned()], &mut modules)?;
    }
    let mut found = Findings::default();
    let known: BTreeMap<Vec<String>, usize> = modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.path.clone(), i))
        .collect();
    let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (i, m) in modules.iter().enumerate() {
        for (path, line) in &m.refs {
            match resolve(m, path, &known) {
                Target::Module(j) if j != i => {
                    edges.insert((i, j));
                    check_rooms(src, m, &modules[j], *line, &mut found);
                }
                Target::External(name) if name == "sqlx" && !in_store(m) => {
                    found.violations.push(format!(
                        "{}:{line}: sqlx outside src/store ({})",
                        shown(src, &m.file),
                        path.join("::")
                    ));
                }
                _ => {}
            }
        }
    }
    circles(src, &modules, &edges, &mut found);
    sizes(src, &modules, &mut found)?;
    found.violations.sort();
    found.violations.dedup();
    Ok(found)
}

/// Parses `file` as the module `path` and every module it declares, into `out`.
fn load(file: &Path, path: Vec<String>, out: &mut Vec<Module>) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let ast = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    load_items(file, path, &ast.items, out)
}

fn load_items(
    file: &Path,
    path: Vec<String>,
    items: &[syn::Item],
    out: &mut Vec<Module>,
) -> Result<(), String> {
    let mut module = Module {
        path: path.clone(),
        file: file.to_path_buf(),
        refs: Vec::new(),
        aliases: BTreeMap::new(),
    };
    let mut children = Vec::new();
    for item in items {
        match item {
            syn::Item::Mod(m) => children.push(m),
            syn::Item::Use(u) => {
                let mut flat = Vec::new();
                flatten(&u.tree, Vec::new(), &mut flat);
                let line = u.use_token.span.start().line;
                for (full, alias) in flat {
                    if let Some(alias) = alias {
                        module.aliases.insert(alias, full.clone());
                    }
                    module.refs.push((full, line));
                }
            }
            other => {
                let mut paths = Paths::default();
                paths.visit_item(other);
                module.refs.extend(paths.found);
            }
        }
    }
    out.push(module);
    for m in children {
        let mut child = path.clone();
        child.push(m.ident.to_string());
        match &m.content {
            Some((_, items)) => load_items(file, child, items, out)?,
            None => load(&child_file(file, m), child, out)?,
        }
    }
    Ok(())
}

/// The file a `mod name;` in `file` lives in: its `#[path]`, relative to `file`'s directory, or
/// `dir/name.rs` beside a crate root, `dir/stem/name.rs` beside any other file.
fn child_file(file: &Path, m: &syn::ItemMod) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new("."));
    for attr in &m.attrs {
        if attr.path().is_ident("path")
            && let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(lit) = &nv.value
            && let syn::Lit::Str(s) = &lit.lit
        {
            return dir.join(s.value());
        }
    }
    let name = format!("{}.rs", m.ident);
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if matches!(stem, "lib" | "main" | "mod") {
        dir.join(name)
    } else {
        dir.join(stem).join(name)
    }
}

/// Every full path a use tree names, with the name it is brought in as (when it is a plain name).
fn flatten(tree: &syn::UseTree, prefix: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    let with = |name: String| {
        let mut p = prefix.clone();
        p.push(name);
        p
    };
    match tree {
        syn::UseTree::Path(p) => flatten(&p.tree, with(p.ident.to_string()), out),
        syn::UseTree::Name(n) if n.ident == "self" => {
            let alias = prefix.last().cloned();
            out.push((prefix.clone(), alias));
        }
        syn::UseTree::Name(n) => out.push((with(n.ident.to_string()), Some(n.ident.to_string()))),
        syn::UseTree::Rename(r) => {
            out.push((with(r.ident.to_string()), Some(r.rename.to_string())))
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), None)),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| flatten(t, prefix.clone(), out)),
    }
}

/// The paths of two segments or more inside an item (types, expressions, macros, attributes).
#[derive(Default)]
struct Paths {
    found: Vec<(Vec<String>, usize)>,
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.segments.len() >= 2 {
            let segs = p.segments.iter().map(|s| s.ident.to_string()).collect();
            let line = p.segments[0].ident.span().start().line;
            self.found.push((segs, line));
        }
        syn::visit::visit_path(self, p);
    }
}

/// Where a path points.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// Into a module of the crate (index into the module list).
    Module(usize),
    /// Into another crate, by its name.
    External(String),
    /// Not a path that can be told (a local name, a generic parameter, an enum variant).
    Unknown,
}

fn resolve(m: &Module, path: &[String], known: &BTreeMap<Vec<String>, usize>) -> Target {
    let Some(first) = path.first() else {
        return Target::Unknown;
    };
    let absolute: Vec<String> = match first.as_str() {
        "crate" | "triaged" => path[1..].to_vec(),
        "self" => m.path.iter().chain(&path[1..]).cloned().collect(),
        "super" => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            let keep = m.path.len().saturating_sub(ups);
            m.path[..keep].iter().chain(&path[ups..]).cloned().collect()
        }
        name => {
            let mut child = m.path.clone();
            child.push(name.to_owned());
            if known.contains_key(&child) {
                m.path.iter().chain(path).cloned().collect()
            } else if let Some(full) = m.aliases.get(name).filter(|f| f.first() != Some(first)) {
                return resolve(m, &[full.clone(), path[1..].to_vec()].concat(), known);
            } else if name.chars().next().is_some_and(char::is_lowercase) {
                return Target::External(name.to_owned());
            } else {
                return Target::Unknown;
            }
        }
    };
    (0..=absolute.len())
        .rev()
        .find_map(|n| known.get(&absolute[..n]).copied())
        .map_or(Target::Unknown, Target::Module)
}

fn in_store(m: &Module) -> bool {
    m.path.first().is_some_and(|r| r == "store")
}

/// (layer, place in the layer) of a room.
fn rank(room: &str) -> Option<(usize, usize)> {
    ROOMS
        .iter()
        .enumerate()
        .find_map(|(layer, rooms)| rooms.iter().position(|r| *r == room).map(|i| (layer, i)))
}

fn check_rooms(src: &Path, from: &Module, to: &Module, line: usize, found: &mut Findings) {
    let (Some(a), Some(b)) = (from.path.first(), to.path.first()) else {
        return;
    };
    if a == b {
        return;
    }
    let at = format!("{}:{line}", shown(src, &from.file));
    match (rank(a), rank(b)) {
        (None, _) => found
            .violations
            .push(format!("{at}: room `{a}` is not in the layer list")),
        (_, None) => found
            .violations
            .push(format!("{at}: room `{b}` is not in the layer list")),
        (Some(ra), Some(rb)) if rb >= ra => found.violations.push(format!(
            "{at}: `{a}` imports `{b}` ({}), which is {} it",
            to.path.join("::"),
            if rb.0 > ra.0 {
                "above"
            } else {
                "listed after it in its layer, or beside"
            }
        )),
        _ => {}
    }
}

/// Files that import each other in a circle (strongly connected files), an edge from a module to one
/// of its ancestors left out.
fn circles(src: &Path, modules: &[Module], edges: &BTreeSet<(usize, usize)>, found: &mut Findings) {
    let mut graph: BTreeMap<&Path, BTreeSet<&Path>> = BTreeMap::new();
    for &(i, j) in edges {
        let (a, b) = (&modules[i], &modules[j]);
        let ancestor = a.path.starts_with(&b.path);
        if a.file != b.file && !ancestor {
            graph.entry(&a.file).or_default().insert(&b.file);
        }
    }
    for scc in strongly_connected(&graph) {
        if scc.len() > 1 {
            let files: Vec<String> = scc.iter().map(|f| shown(src, f)).collect();
            found
                .violations
                .push(format!("files in a circle: {}", files.join(" -> ")));
        }
    }
}

/// Tarjan's algorithm over a small graph.
fn strongly_connected<'a>(graph: &BTreeMap<&'a Path, BTreeSet<&'a Path>>) -> Vec<Vec<&'a Path>> {
    struct State<'a> {
        index: BTreeMap<&'a Path, usize>,
        low: BTreeMap<&'a Path, usize>,
        stack: Vec<&'a Path>,
        on_stack: BTreeSet<&'a Path>,
        out: Vec<Vec<&'a Path>>,
    }
    fn visit<'a>(v: &'a Path, g: &BTreeMap<&'a Path, BTreeSet<&'a Path>>, s: &mut State<'a>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in g.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(w, g, s);
                let lw = s.low[w];
                s.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                s.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(scc);
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(v, graph, &mut s);
        }
    }
    s.out
}

/// Notes on files over [`MAX_FILE_LINES`] and functions over [`MAX_FN_LINES`].
fn sizes(src: &Path, modules: &[Module], found: &mut Findings) -> Result<(), String> {
    let files: BTreeSet<&Path> = modules.iter().map(|m| m.file.as_path()).collect();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            found.notes.push(format!(
                "{}: {lines} lines (over {MAX_FILE_LINES})",
                shown(src, file)
            ));
        }
        let ast = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut fns = LongFns::default();
        fns.visit_file(&ast);
        for (name, start, n) in fns.found {
            found.notes.push(format!(
                "{}:{start}: fn {name} is {n} lines (over {MAX_FN_LINES})",
                shown(src, file)
            ));
        }
    }
    Ok(())
}

/// Functions longer than [`MAX_FN_LINES`]: (name, first line, lines).
#[derive(Default)]
struct LongFns {
    found: Vec<(String, usize, usize)>,
}

impl LongFns {
    fn note(&mut self, name: &syn::Ident, block: &syn::Block) {
        use syn::spanned::Spanned as _;
        let (start, end) = (name.span().start().line, block.span().end().line);
        let n = end.saturating_sub(start) + 1;
        if n > MAX_FN_LINES {
            self.found.push((name.to_string(), start, n));
        }
    }
}

impl<'ast> Visit<'ast> for LongFns {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.note(&f.sig.ident, &f.block);
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.note(&f.sig.ident, &f.block);
        syn::visit::visit_impl_item_fn(self, f);
    }
}

fn shown(src: &Path, file: &Path) -> String {
    let root = src.parent().unwrap_or(Path::new(""));
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a small crate: `files` as (path under src, text).
    fn tree(files: &[(&str, &str)]) -> anyhow::Result<tempfile::TempDir> {
        let dir = tempfile::tempdir()?;
        for (path, text) in files {
            let file = dir.path().join("src").join(path);
            std::fs::create_dir_all(file.parent().unwrap_or(dir.path()))?;
            std::fs::write(file, text)?;
        }
        Ok(dir)
    }

    fn violations(files: &[(&str, &str)]) -> anyhow::Result<Vec<String>> {
        let dir = tree(files)?;
        check(&dir.path().join("src"))
            .map(|f| f.violations)
            .map_err(anyhow::Error::msg)
    }

    const LIB: &str = "pub mod cli;\npub mod store;\npub mod worker;\n";

    #[test]
    fn a_clean_tree_passes() -> anyhow::Result<()> {
        let v = violations(&[
            ("lib.rs", LIB),
            ("cli.rs", "use crate::worker::run;\n"),
            (
                "worker.rs",
                "mod a;\nmod b;\npub fn run() { crate::store::open(); }\n",
            ),
            ("worker/a.rs", "use super::b::B;\npub struct A(B);\n"),
            ("worker/b.rs", "pub struct B;\n"),
            ("store.rs", "pub fn open() { sqlx::query(\"SELECT 1\"); }\n"),
        ])?;
        assert!(v.is_empty(), "{v:?}");
        Ok(())
    }

    #[test]
    fn importing_cli_from_below_fails() -> anyhow::Result<()> {
        let v = violations(&[
            ("lib.rs", LIB),
            ("cli.rs", "pub struct Arg;\n"),
            ("worker.rs", "use crate::cli::Arg;\n"),
            ("store.rs", ""),
        ])?;
        assert!(
            v.iter().any(|v| v.contains("`worker` imports `cli`")),
            "{v:?}"
        );
        Ok(())
    }

    #[test]
    fn an_inline_path_up_the_layers_fails() -> anyhow::Result<()> {
        let v = violations(&[
            ("lib.rs", LIB),
            ("cli.rs", ""),
            ("worker.rs", "pub fn go() {}\n"),
            ("store.rs", "pub fn f() { super::worker::go(); }\n"),
        ])?;
        assert!(
            v.iter().any(|v| v.contains("`store` imports `worker`")),
            "{v:?}"
        );
        Ok(())
    }

    #[test]
    fn sql_outside_the_store_fails() -> anyhow::Result<()> {
        let v = violations(&[
            ("lib.rs", LIB),
            ("cli.rs", ""),
            ("worker.rs", "use sqlx::Row;\n"),
            ("store.rs", ""),
        ])?;
        assert!(
            v.iter().any(|v| v.contains("sqlx outside src/store")),
            "{v:?}"
        );
        Ok(())
    }

    #[test]
    fn files_in_a_circle_fail_but_a_part_may_use_its_front_file() -> anyhow::Result<()> {
        let v = violations(&[
            ("lib.rs", LIB),
            ("cli.rs", ""),
            ("store.rs", ""),
            (
                "worker.rs",
                "mod a;\nmod b;\npub use self::a::A;\npub struct W;\n",
            ),
            (
                "worker/a.rs",
                "use super::b::B;\nuse super::W;\npub struct A;\n",
            ),
            ("worker/b.rs", "use super::a::A;\npub struct B;\n"),
        ])?;
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].starts_with("files in a circle"), "{v:?}");
        assert!(v[0].contains("worker/a.rs") && v[0].contains("worker/b.rs"));
        Ok(())
    }

    #[test]
    fn the_project_itself_passes() -> anyhow::Result<()> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let found = check(&src).map_err(anyhow::Error::msg)?;
        assert!(found.violations.is_empty(), "{:#?}", found.violations);
        Ok(())
    }
}
