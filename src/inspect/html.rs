//! `pylayer inspect --html`: one self-contained page (inline CSS, SVG and a few lines of
//! JavaScript; nothing fetched from the network) with a treemap of the layer by
//! distribution and directory, and the tables of the text report.
//!
//! The treemap is laid out here (squarified, Bruls et al. 2000), so the page draws the same
//! picture in any browser, with JavaScript off too. Each distribution is one `<g>` element
//! with a `data-dist` attribute; files no distribution claims form one block with
//! `data-unattributed`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Inspection, pct};
use crate::format::human_bytes;
use crate::layer::Layer;

const WIDTH: f64 = 1160.0;
const HEIGHT: f64 = 620.0;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// Lays `values` (sorted largest first, all positive) out in `r`, each rectangle's area
/// proportional to its value, keeping aspect ratios close to 1.
fn squarify(values: &[f64], r: Rect) -> Vec<Rect> {
    let total: f64 = values.iter().sum();
    if values.is_empty() || total <= 0.0 || r.w <= 0.0 || r.h <= 0.0 {
        return values
            .iter()
            .map(|_| Rect {
                x: r.x,
                y: r.y,
                w: 0.0,
                h: 0.0,
            })
            .collect();
    }
    let scale = r.w * r.h / total;
    let v: Vec<f64> = values.iter().map(|x| x * scale).collect();
    let worst = |sum: f64, min: f64, max: f64, side: f64| {
        let (s2, w2) = (sum * sum, side * side);
        (w2 * max / s2).max(s2 / (w2 * min))
    };
    let mut out = Vec::with_capacity(v.len());
    let mut rect = r;
    let mut i = 0;
    while i < v.len() {
        let side = rect.w.min(rect.h).max(1e-9);
        let (mut j, mut sum, mut best) = (i, 0.0, f64::INFINITY);
        while j < v.len() {
            let ratio = worst(sum + v[j], v[j].max(1e-12), v[i], side);
            if j > i && ratio > best {
                break;
            }
            best = ratio;
            sum += v[j];
            j += 1;
        }
        if rect.w >= rect.h {
            let cw = if rect.h > 0.0 { sum / rect.h } else { 0.0 };
            let mut y = rect.y;
            for &val in &v[i..j] {
                let h = if cw > 0.0 { val / cw } else { 0.0 };
                out.push(Rect {
                    x: rect.x,
                    y,
                    w: cw,
                    h,
                });
                y += h;
            }
            rect.x += cw;
            rect.w = (rect.w - cw).max(0.0);
        } else {
            let rh = if rect.w > 0.0 { sum / rect.w } else { 0.0 };
            let mut x = rect.x;
            for &val in &v[i..j] {
                let w = if rh > 0.0 { val / rh } else { 0.0 };
                out.push(Rect {
                    x,
                    y: rect.y,
                    w,
                    h: rh,
                });
                x += w;
            }
            rect.y += rh;
            rect.h = (rect.h - rh).max(0.0);
        }
        i = j;
    }
    out
}

/// A directory (or file, or lumped small entries) inside a distribution.
#[derive(Debug, Default)]
struct Node {
    size: u64,
    files: usize,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn add(&mut self, parts: &[&str], size: u64, depth: usize) {
        self.size += size;
        self.files += 1;
        if depth == 0 || parts.is_empty() {
            return;
        }
        let key = if parts.len() > 1 {
            format!("{}/", parts[0])
        } else {
            parts[0].to_string()
        };
        self.children
            .entry(key)
            .or_default()
            .add(&parts[1..], size, depth - 1);
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn color(i: usize, light: u32) -> String {
    let hue = (i * 137 + 200) % 360;
    format!("hsl({hue},55%,{light}%)")
}

/// Children worth a rectangle, largest first; the rest lumped as one "other" entry.
fn visible_children(node: &Node, min: u64) -> Vec<(String, u64, usize, Option<&Node>)> {
    let mut kids: Vec<(&String, &Node)> = node.children.iter().collect();
    kids.sort_by(|a, b| b.1.size.cmp(&a.1.size).then(a.0.cmp(b.0)));
    let mut out = Vec::new();
    let (mut other, mut other_files, mut lumped) = (0u64, 0usize, Vec::new());
    for (name, n) in kids {
        if n.size >= min && out.len() < 40 {
            out.push((name.clone(), n.size, n.files, Some(n)));
        } else {
            other += n.size;
            other_files += n.files;
            lumped.push((name, n));
        }
    }
    if let [(name, n)] = lumped.as_slice() {
        out.push(((*name).clone(), n.size, n.files, Some(*n)));
    } else if !lumped.is_empty() && other > 0 {
        let lumped = lumped.len();
        out.push((
            format!("{lumped} smaller entries"),
            other,
            other_files,
            None,
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn draw_children(
    svg: &mut String,
    node: &Node,
    path: &str,
    r: Rect,
    color_index: usize,
    light: u32,
    min: u64,
    depth: usize,
) {
    let kids = visible_children(node, min);
    let values: Vec<f64> = kids.iter().map(|k| k.1.max(1) as f64).collect();
    for ((name, size, files, child), cr) in kids.iter().zip(squarify(&values, r)) {
        let full = format!("{path}{name}");
        let _ = write!(
            svg,
            "<g class=\"dir\" data-path=\"{}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} — {} in {} file{}</title></rect>",
            esc(&full),
            cr.x,
            cr.y,
            cr.w,
            cr.h,
            color(color_index, light),
            esc(&full),
            human_bytes(*size),
            files,
            if *files == 1 { "" } else { "s" }
        );
        if cr.w > 60.0 && cr.h > 14.0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"small\">{}</text>",
                cr.x + 3.0,
                cr.y + 11.0,
                esc(&clip(name, cr.w))
            );
        }
        if depth > 1
            && let Some(child) = child
            && cr.w > 40.0
            && cr.h > 34.0
            && !child.children.is_empty()
        {
            let inner = Rect {
                x: cr.x + 2.0,
                y: cr.y + 14.0,
                w: cr.w - 4.0,
                h: cr.h - 16.0,
            };
            draw_children(
                svg,
                child,
                &full,
                inner,
                color_index,
                light + 8,
                min,
                depth - 1,
            );
        }
        svg.push_str("</g>");
    }
}

/// Shortens a label to what fits in `width` pixels (about 6.5 px per character).
fn clip(label: &str, width: f64) -> String {
    let max = ((width - 6.0) / 6.5).max(0.0) as usize;
    if label.chars().count() <= max {
        label.to_string()
    } else if max <= 1 {
        String::new()
    } else {
        let s: String = label.chars().take(max - 1).collect();
        format!("{s}…")
    }
}

/// The treemap as an SVG element.
fn treemap(layer: &Layer, ins: &Inspection) -> String {
    // One block per distribution, in the order of the table (largest first), plus the
    // unattributed files.
    let mut blocks: Vec<(String, String, Option<usize>)> = ins
        .distributions
        .iter()
        .map(|d| {
            let idx = layer
                .dists
                .iter()
                .position(|x| x.name == d.name && x.version == d.version);
            (d.name.clone(), d.version.clone(), idx)
        })
        .collect();
    let mut trees: Vec<Node> = Vec::new();
    for (_, _, idx) in &blocks {
        let mut n = Node::default();
        for f in layer
            .files
            .iter()
            .filter(|f| f.dist == *idx && idx.is_some())
        {
            let rel = layer.relative(f);
            let parts: Vec<&str> = rel.split('/').collect();
            n.add(&parts, f.size, 2);
        }
        trees.push(n);
    }
    if !ins.unattributed.files.is_empty() {
        let mut n = Node::default();
        for f in layer.files.iter().filter(|f| f.dist.is_none()) {
            let parts: Vec<&str> = f.path.split('/').collect();
            n.add(&parts, f.size, 2);
        }
        blocks.push(("(unattributed)".into(), String::new(), None));
        trees.push(n);
    }
    let total: u64 = trees.iter().map(|t| t.size).sum();
    let min = total / 400;
    let values: Vec<f64> = trees.iter().map(|t| t.size.max(1) as f64).collect();
    // `squarify` wants values largest first; distributions already are, the unattributed
    // block is sorted in with them.
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let sorted: Vec<f64> = order.iter().map(|&i| values[i]).collect();
    let rects = squarify(
        &sorted,
        Rect {
            x: 0.0,
            y: 0.0,
            w: WIDTH,
            h: HEIGHT,
        },
    );
    let mut svg = format!(
        "<svg id=\"treemap\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"treemap of the layer by distribution and directory\">"
    );
    for (pos, &i) in order.iter().enumerate() {
        let r = rects[pos];
        let (name, version, idx) = &blocks[i];
        let tree = &trees[i];
        let attr = if idx.is_some() {
            format!("data-dist=\"{}\"", esc(name))
        } else {
            "data-unattributed=\"true\"".to_string()
        };
        let label = if version.is_empty() {
            name.clone()
        } else {
            format!("{name} {version}")
        };
        let ci = if idx.is_some() { i } else { usize::MAX / 2 };
        let fill = if idx.is_some() {
            color(ci, 42)
        } else {
            "hsl(0,0%,55%)".to_string()
        };
        let _ = write!(
            svg,
            "<g class=\"dist\" {attr} data-bytes=\"{}\"><rect class=\"dist-box\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>{} — {} unzipped ({:.1}% of 250 MB), {} files</title></rect>",
            tree.size,
            r.x,
            r.y,
            r.w,
            r.h,
            esc(&label),
            human_bytes(tree.size),
            pct(tree.size),
            tree.files
        );
        if r.w > 30.0 && r.h > 16.0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"label\">{}</text>",
                r.x + 4.0,
                r.y + 13.0,
                esc(&clip(
                    &format!("{label} · {}", human_bytes(tree.size)),
                    r.w * 0.9
                ))
            );
        }
        if r.w > 40.0 && r.h > 40.0 {
            let inner = Rect {
                x: r.x + 3.0,
                y: r.y + 18.0,
                w: r.w - 6.0,
                h: r.h - 21.0,
            };
            if idx.is_some() {
                draw_children(&mut svg, tree, "", inner, ci, 58, min, 2);
            } else {
                draw_children(&mut svg, tree, "", inner, 0, 70, min, 2);
            }
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:20px;color:#1d2330;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.summary{color:#444;margin-bottom:12px}
#treemap{background:#fff;border:1px solid #ccc;display:block;width:100%;max-width:1160px;height:auto}
#treemap rect{stroke:#fff;stroke-width:1}
#treemap .dist-box{stroke:#1d2330;stroke-width:1.5}
#treemap text{pointer-events:none;fill:#fff;font-size:12px;font-weight:600;paint-order:stroke;stroke:rgba(0,0,0,.35);stroke-width:2px}
#treemap text.small{font-size:10px;font-weight:400}
#treemap g.dist.hl>.dist-box{stroke:#ffd400;stroke-width:4}
table{border-collapse:collapse;background:#fff;margin-bottom:8px}
th,td{padding:3px 10px;border-bottom:1px solid #e3e3e3;text-align:left;white-space:nowrap}
td:last-child{white-space:normal;overflow-wrap:anywhere}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.hl td{background:#fff6c2}
.bar{display:inline-block;height:9px;background:#4b7bd1;vertical-align:middle}
code{font:12px ui-monospace,monospace}
.over{color:#b00020;font-weight:600}
#details{min-height:1.4em;color:#333;margin:6px 0}
"#;

const SCRIPT: &str = r#"
(function(){
  var details=document.getElementById('details');
  function mark(name,on){
    document.querySelectorAll('[data-dist]').forEach(function(el){
      if(el.getAttribute('data-dist')===name){el.classList.toggle('hl',on);}
    });
  }
  document.querySelectorAll('tr[data-row]').forEach(function(tr){
    var name=tr.getAttribute('data-row');
    tr.addEventListener('mouseenter',function(){mark(name,true);});
    tr.addEventListener('mouseleave',function(){mark(name,false);});
  });
  document.querySelectorAll('#treemap g.dist').forEach(function(g){
    g.addEventListener('mousemove',function(ev){
      var t=ev.target.querySelector('title')||ev.target.parentNode.querySelector('title');
      if(t&&details){details.textContent=t.textContent;}
    });
    g.addEventListener('mouseenter',function(){
      var row=document.querySelector('tr[data-row="'+CSS.escape(g.getAttribute('data-dist')||'')+'"]');
      if(row){row.classList.add('hl');}
    });
    g.addEventListener('mouseleave',function(){
      document.querySelectorAll('tr.hl').forEach(function(r){r.classList.remove('hl');});
    });
  });
})();
"#;

/// The whole page.
pub fn render(layer: &Layer, ins: &Inspection) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — pylayer inspect</title><style>{STYLE}</style></head><body>",
        esc(&ins.zip)
    );
    let over = ins.unzipped_bytes > ins.unzipped_limit;
    let _ = write!(
        h,
        "<h1>{}</h1><div class=\"summary\">{} unzipped in {} files — <span class=\"{}\">{:.1}% of Lambda's 250 MB (262,144,000 bytes) limit</span> — {} zipped — {} distributions</div>",
        esc(&ins.zip),
        human_bytes(ins.unzipped_bytes),
        ins.files,
        if over { "over" } else { "" },
        ins.share_of_limit,
        human_bytes(ins.zip_bytes),
        ins.distributions.len()
    );
    let _ = write!(
        h,
        "<p class=\"summary\">{}</p>",
        esc(super::render_bytecode(ins).trim_end())
    );
    h.push_str(&treemap(layer, ins));
    h.push_str("<div id=\"details\">Point at a block for its size.</div>");

    h.push_str("<h2>Distributions</h2><table><thead><tr><th>distribution</th><th>version</th><th class=\"n\">files</th><th class=\"n\">unzipped</th><th class=\"n\">zipped</th><th class=\"n\">of 250 MB</th><th></th></tr></thead><tbody>");
    let max = ins
        .distributions
        .iter()
        .map(|d| d.unzipped_bytes)
        .max()
        .unwrap_or(1)
        .max(ins.unattributed.unzipped_bytes)
        .max(1);
    for d in &ins.distributions {
        let _ = write!(
            h,
            "<tr data-row=\"{}\"><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}%</td><td><span class=\"bar\" style=\"width:{:.0}px\"></span></td></tr>",
            esc(&d.name),
            esc(&d.name),
            esc(&d.version),
            d.files,
            human_bytes(d.unzipped_bytes),
            human_bytes(d.zipped_bytes),
            d.share_of_limit,
            d.unzipped_bytes as f64 * 200.0 / max as f64
        );
    }
    if !ins.unattributed.files.is_empty() {
        let u = &ins.unattributed;
        let _ = write!(
            h,
            "<tr><td><em>(unattributed)</em></td><td></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1}%</td><td><span class=\"bar\" style=\"width:{:.0}px;background:#999\"></span></td></tr>",
            u.files.len(),
            human_bytes(u.unzipped_bytes),
            human_bytes(u.zipped_bytes),
            pct(u.unzipped_bytes),
            u.unzipped_bytes as f64 * 200.0 / max as f64
        );
    }
    h.push_str("</tbody></table>");
    if !ins.unattributed.files.is_empty() {
        h.push_str("<p>Unattributed files (no <code>RECORD</code> or <code>top_level.txt</code> claims them): ");
        let shown: Vec<String> = ins
            .unattributed
            .files
            .iter()
            .take(20)
            .map(|p| format!("<code>{}</code>", esc(p)))
            .collect();
        h.push_str(&shown.join(", "));
        if ins.unattributed.files.len() > 20 {
            let _ = write!(h, " … and {} more", ins.unattributed.files.len() - 20);
        }
        h.push_str("</p>");
    }

    h.push_str("<h2>What trimming would save</h2><table><thead><tr><th>category</th><th class=\"n\">files</th><th class=\"n\">saves</th><th>largest</th></tr></thead><tbody>");
    for t in &ins.trim {
        let ex: Vec<String> = t
            .examples
            .iter()
            .take(3)
            .map(|(p, b)| format!("<code>{}</code> ({})", esc(p), human_bytes(*b)))
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&t.description),
            t.files,
            human_bytes(t.bytes),
            ex.join(", ")
        );
    }
    let _ = write!(
        h,
        "<tr><td><strong>total</strong></td><td></td><td class=\"n\"><strong>{}</strong></td><td></td></tr></tbody></table>",
        human_bytes(ins.trim_total_bytes)
    );

    h.push_str("<h2>Largest files</h2><table><thead><tr><th class=\"n\">unzipped</th><th class=\"n\">zipped</th><th>distribution</th><th>path</th></tr></thead><tbody>");
    for f in &ins.largest_files {
        let _ = write!(
            h,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
            human_bytes(f.unzipped_bytes),
            human_bytes(f.zipped_bytes),
            esc(f.distribution.as_deref().unwrap_or("(unattributed)")),
            esc(&f.path)
        );
    }
    h.push_str("</tbody></table>");
    let _ = write!(
        h,
        "<p style=\"color:#777\">Written by pylayer {}.</p><script>{SCRIPT}</script></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    h.push('\n');
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squarify_fills_the_rectangle_proportionally() {
        let r = Rect {
            x: 0.0,
            y: 0.0,
            w: 600.0,
            h: 400.0,
        };
        let values = [6.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0];
        let rects = squarify(&values, r);
        assert_eq!(rects.len(), values.len());
        let total: f64 = values.iter().sum();
        for (v, q) in values.iter().zip(&rects) {
            let expect = v / total * 600.0 * 400.0;
            assert!((q.w * q.h - expect).abs() < 1e-6, "{q:?} vs {expect}");
            assert!(q.x >= -1e-9 && q.y >= -1e-9);
            assert!(q.x + q.w <= 600.0 + 1e-6 && q.y + q.h <= 400.0 + 1e-6);
        }
        // No two rectangles overlap.
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                let ox = (a.x + a.w).min(b.x + b.w) - a.x.max(b.x);
                let oy = (a.y + a.h).min(b.y + b.h) - a.y.max(b.y);
                assert!(ox <= 1e-6 || oy <= 1e-6, "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn escapes_and_clips() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(clip("abcdefghijklmnop", 50.0), "abcde…");
        assert_eq!(clip("abc", 50.0), "abc");
    }
}
