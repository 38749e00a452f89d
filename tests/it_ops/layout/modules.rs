//! The modules of a crate and what each imports, read from its sources as text: a module per
//! file (`a/b.rs` and `a/b/mod.rs` are `a::b`; `#[path]` modules where they are declared), an
//! edge per `use` path (`crate::`, `super::`, `self::`, a child module's name, grouped
//! `{…}` lists) and per `crate::…` path in code. Test code (`#[cfg(test)]` modules, inline or
//! in their own files) is left out: tests import the fakes that stand in for what they test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test helper: fails loudly on purpose

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside its crate (`["rpc", "verify"]`; the root is empty).
pub(crate) type Module = Vec<String>;

/// Every module of the crate rooted at `src` (its `lib.rs`) and the modules each imports.
pub(crate) fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = BTreeMap::new();
    collect(src, src, &mut files);
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    let mut out = BTreeMap::new();
    for (module, text) in &files {
        let mut deps = BTreeSet::new();
        for path in paths(module, text) {
            if let Some(target) = resolve(&known, &path) {
                if target != *module {
                    deps.insert(target);
                }
            }
        }
        out.insert(module.clone(), deps);
    }
    out
}

/// The graph of top-level modules: an edge `a → b` when any module under `a` imports one
/// under `b`. The crate root only declares modules and re-exports: a path through it
/// (`crate::Error`) is an edge to what it re-exports (`error`).
pub(crate) fn folders(graph: &BTreeMap<Module, BTreeSet<Module>>) -> BTreeMap<Module, BTreeSet<Module>> {
    let top = |m: &Module| m.first().map(|f| vec![f.clone()]);
    let reexports: Vec<Module> = graph.get(&Vec::new()).into_iter().flatten().filter_map(top).collect();
    let mut out: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, deps) in graph {
        let Some(from) = top(module) else { continue };
        let targets = deps.iter().flat_map(|d| match top(d) {
            Some(t) => vec![t],
            None => reexports.clone(),
        });
        let entry = out.entry(from.clone()).or_default();
        entry.extend(targets.filter(|to| *to != from));
    }
    out
}

/// The file's text without its test modules, by module path; test-only files are skipped.
fn collect(src: &Path, dir: &Path, out: &mut BTreeMap<Module, String>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(src, &p, out);
            continue;
        }
        if p.extension().is_none_or(|e| e != "rs") || p.file_name().is_some_and(|f| f == "main.rs") {
            continue;
        }
        let rel = p.strip_prefix(src).unwrap().with_extension("");
        let mut module: Module = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
        if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
            module.pop();
        }
        let text = std::fs::read_to_string(&p).unwrap();
        if is_test_file(src, &p, &module) {
            continue;
        }
        out.insert(module, without_tests(&text));
    }
}

/// A file declared `#[cfg(test)]` where its parent declares it (or by `#[path]`).
fn is_test_file(src: &Path, file: &Path, module: &Module) -> bool {
    let Some(name) = module.last() else { return false };
    let dir = file.parent().unwrap();
    let parent_files = if file.file_name().is_some_and(|f| f == "mod.rs") {
        let up = dir.parent().unwrap();
        vec![up.join("mod.rs"), up.join("lib.rs"), up.with_extension("rs")]
    } else {
        vec![dir.join("mod.rs"), dir.join("lib.rs"), dir.with_extension("rs")]
    };
    let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
    parent_files
        .iter()
        .chain(std::iter::once(&src.join("lib.rs")))
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .any(|t| {
            let lines: Vec<&str> = t.lines().map(str::trim).collect();
            lines.windows(2).any(|w| {
                let declares = w[1].ends_with(&format!("mod {name};"));
                let by_path = w[0].contains(&format!("\"{file_name}\""));
                (w[0] == "#[cfg(test)]" && declares) || (by_path && w[0].starts_with("#[path"))
            }) || lines
                .windows(3)
                .any(|w| w[0] == "#[cfg(test)]" && w[1].contains(&format!("\"{file_name}\"")))
        })
}

/// `text` without `#[cfg(test)] mod … { … }` blocks and without comments.
fn without_tests(text: &str) -> String {
    let code: String =
        text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut out = String::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(open) = after.find(['{', ';']) else { break };
        if after.as_bytes()[open] == b';' {
            rest = &after[open + 1..];
            continue;
        }
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after.char_indices().skip(open) {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            if depth == 0 {
                end = i + 1;
                break;
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Every module path `text` names, absolute (from the crate root), as written.
fn paths(module: &Module, text: &str) -> Vec<Module> {
    let children: BTreeSet<String> = text
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("pub ").unwrap_or(l).strip_prefix("mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .map(str::to_owned)
        .collect();
    let mut out = Vec::new();
    let flat = text.replace('\n', " ");
    for stmt in flat.split(';') {
        let s = stmt.trim();
        let Some(rest) = s.strip_prefix("use ").or_else(|| s.split_once(" use ").map(|(_, r)| r)) else {
            continue;
        };
        for p in expand(rest.trim()) {
            out.extend(absolute(module, &children, &p));
        }
    }
    for (at, _) in flat.match_indices("crate::") {
        let tail: String =
            flat[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
        out.extend(absolute(module, &children, &tail));
    }
    out
}

/// `a::{b, c::{d}}` → `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else { return vec![tree.to_owned()] };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// The absolute module path of `path` written in `module`, if it is one of this crate's.
fn absolute(module: &Module, children: &BTreeSet<String>, path: &str) -> Option<Module> {
    let segments: Vec<&str> = path.split(" as ").next()?.split("::").map(str::trim).collect();
    let mut base: Module = match *segments.first()? {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => module[..module.len().checked_sub(1)?].to_vec(),
        first if children.contains(first) => module.clone(),
        _ => return None,
    };
    let mut rest = &segments[usize::from(matches!(segments[0], "crate" | "self" | "super"))..];
    while rest.first() == Some(&"super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().filter(|s| !s.is_empty() && **s != "*").map(|s| (*s).to_owned()));
    Some(base)
}

/// The longest known module `path` starts with.
fn resolve(known: &BTreeSet<Module>, path: &Module) -> Option<Module> {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|m| known.contains(m))
}

/// The import circles: groups of two or more modules that reach each other (Tarjan).
pub(crate) fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(st: &mut State<'a>, v: &'a Module) {
        let i = st.index.len();
        st.index.insert(v, i);
        st.low.insert(v, i);
        st.stack.push(v);
        st.on.insert(v);
        for w in st.graph.get(v).into_iter().flatten() {
            let Some((w, _)) = st.graph.get_key_value(w) else { continue };
            if !st.index.contains_key(w) {
                visit(st, w);
                let lw = st.low[w];
                st.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if st.on.contains(w) {
                let iw = st.index[w];
                st.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if st.low[v] == st.index[v] {
            let mut group = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on.remove(w);
                group.push(w.clone());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                st.out.push(group);
            }
        }
    }
    let mut st = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !st.index.contains_key(v) {
            visit(&mut st, v);
        }
    }
    st.out
}
