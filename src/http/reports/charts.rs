//! Bar charts as inline SVG, drawn with plotters' SVG backend into a string: no script, no
//! fonts to load (the browser sets the text), scaled to the page's width by their
//! `viewBox`, so they read on a 360 px screen.
//!
//! Plotters draws a bar as a bare `<rect>`. So that a reader (or a test) can tell the bars
//! from the frame and name each one, every bar is filled with [`BAR_FILL`], a colour
//! nothing else in a chart uses, and afterwards each `<rect>` of that colour, in drawing
//! order, gets `class="bar"`, its label, its value and a `<title>` tooltip.

use std::fmt::Write;

use plotters::prelude::*;

/// The chart's width in SVG units; the page scales it to its width (about 330 px on a
/// phone, so 18 units of text read as 12 px).
const WIDTH: u32 = 480;
const ROW: u32 = 34;
const FONT: u32 = 18;
/// The bars' colour, used by nothing else (see the module documentation).
const BAR_FILL: RGBColor = RGBColor(0x2B, 0x6C, 0xB0);
const BAR_FILL_SVG: &str = "fill=\"#2B6CB0\"";

/// One bar: what it stands for, its value (in the chart's unit), and the text shown for it.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub shown: String,
}

/// The label under slot `v`: every `every`th bar's label, so that they never overlap.
fn slot_label(bars: &[Bar], v: &SegmentValue<i32>, every: usize, max: usize) -> String {
    match v {
        SegmentValue::CenterOf(i) if *i >= 0 && (*i as usize).is_multiple_of(every) => bars
            .get(*i as usize)
            .map(|b| truncate(&b.label, max))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Bars standing on the x axis, one per label, left to right (weeks). Labels are shortened
/// to their last `short` characters (`W48` of `2026-W48`).
pub fn columns(title: &str, unit: &str, bars: &[Bar], short: usize) -> String {
    let n = bars.len().max(1) as i32;
    // About five labels fit across.
    let every = bars.len().div_ceil(5).max(1);
    let svg = draw(260, bars, |root, top| {
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d((0..n).into_segmented(), 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bars.len().max(1))
            .x_label_formatter(&|v| {
                let label = slot_label(bars, v, every, 40);
                let skip = label.chars().count().saturating_sub(short);
                label.chars().skip(skip).collect()
            })
            .y_labels(5)
            .y_desc(unit)
            .label_style(("sans-serif", FONT))
            .axis_desc_style(("sans-serif", FONT))
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let i = i as i32;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), b.value),
                ],
                BAR_FILL.filled(),
            );
            bar.set_margin(0, 0, 6, 6);
            bar
        }))?;
        Ok(())
    });
    finish(svg, title, bars)
}

/// Bars along the y axis, one row per label, top to bottom (services, responders).
pub fn rows(title: &str, unit: &str, bars: &[Bar]) -> String {
    let n = bars.len().max(1) as i32;
    let height = 56 + ROW * n as u32;
    let svg = draw(height, bars, |root, top| {
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(140)
            .build_cartesian_2d(0f64..top, (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(bars.len().max(1))
            // Slot 0 at the bottom: the first bar (the largest) goes in the top slot.
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => {
                    slot_label(bars, &SegmentValue::CenterOf(n - 1 - i), 1, 14)
                }
                _ => String::new(),
            })
            .x_labels(5)
            .x_desc(unit)
            .label_style(("sans-serif", FONT))
            .axis_desc_style(("sans-serif", FONT))
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let slot = n - 1 - i as i32;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(slot)),
                    (b.value, SegmentValue::Exact(slot + 1)),
                ],
                BAR_FILL.filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            bar
        }))?;
        Ok(())
    });
    finish(svg, title, bars)
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut t: String = text.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Runs `paint` on a fresh SVG of `height`, with the value axis up to a round top above
/// the largest bar; the SVG text, or a one-line note where drawing failed.
fn draw<F>(height: u32, bars: &[Bar], paint: F) -> Result<String, String>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, f64) -> DrawResult,
{
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let top = if max > 0.0 { max * 1.15 } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        paint(&root, top).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Makes the SVG scale with the page and marks each bar (see the module documentation).
fn finish(svg: Result<String, String>, title: &str, bars: &[Bar]) -> String {
    let svg = match svg {
        Ok(svg) => svg,
        Err(e) => {
            tracing::warn!(chart = title, error = %e, "drawing a chart failed");
            return String::new();
        }
    };
    let mut out = String::with_capacity(svg.len() + bars.len() * 120);
    let mut rest = svg.as_str();
    // The root element: no fixed size, so `width: 100%` in the page's style applies.
    if let Some(open) = rest.find("<svg ") {
        let end = rest[open..].find('>').map_or(rest.len(), |e| open + e);
        let tag = &rest[open..end];
        let viewbox = tag
            .find("viewBox=\"")
            .and_then(|v| tag[v..].split('"').nth(1))
            .unwrap_or("0 0 480 260");
        let _ = write!(
            out,
            "{}<svg class=\"chart\" viewBox=\"{viewbox}\" width=\"100%\" \
             preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"{}\" \
             xmlns=\"http://www.w3.org/2000/svg\"",
            &rest[..open],
            escape(title)
        );
        rest = &rest[end..];
    }
    let mut bars = bars.iter();
    while let Some(at) = rest.find("<rect ") {
        let end = rest[at..].find("/>").map_or(rest.len(), |e| at + e);
        let tag = &rest[at..end];
        out.push_str(&rest[..at]);
        let bar = if tag.contains(BAR_FILL_SVG) {
            bars.next()
        } else {
            None
        };
        match bar {
            Some(bar) => {
                let _ = write!(
                    out,
                    "<rect class=\"bar\" data-label=\"{}\" data-value=\"{}\" {}><title>{}: {}</title></rect>",
                    escape(&bar.label),
                    bar.value,
                    &tag["<rect ".len()..],
                    escape(&bar.label),
                    escape(&bar.shown)
                );
                rest = &rest[(end + 2).min(rest.len())..];
            }
            None => {
                out.push_str(tag);
                rest = &rest[end..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(values: &[f64]) -> Vec<Bar> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Bar {
                label: format!("2026-W{:02}", 40 + i),
                value: *v,
                shown: format!("{v} s"),
            })
            .collect()
    }

    #[test]
    fn each_bar_is_marked_once_in_order_even_when_empty() {
        let svg = columns("MTTA <per> week", "seconds", &bars(&[60.0, 0.0, 300.5]), 3);
        assert_eq!(svg.matches("class=\"bar\"").count(), 3, "{svg}");
        let first = svg.find("data-label=\"2026-W40\"").unwrap();
        let second = svg.find("data-label=\"2026-W41\"").unwrap();
        let third = svg
            .find("data-label=\"2026-W42\" data-value=\"300.5\"")
            .unwrap();
        assert!(first < second && second < third);
        assert!(svg.contains("width=\"100%\""));
        assert!(svg.contains("aria-label=\"MTTA &lt;per&gt; week\""));
        assert!(svg.contains("<svg class=\"chart\" viewBox=\"0 0 480 260\" width=\"100%\""));
        // Labels shortened to the week: W40, W41, W42.
        assert!(svg.lines().any(|l| l.trim() == "W41"), "{svg}");
        assert_eq!(svg.matches("<svg").count(), 1);
    }

    #[test]
    fn rows_mark_every_bar_and_escape_labels() {
        let mut b = bars(&[5.0, 2.0]);
        b[1].label = "<script>alert(1)</script>".into();
        let svg = rows("Alerts per service", "alerts", &b);
        assert_eq!(svg.matches("class=\"bar\"").count(), 2, "{svg}");
        assert!(!svg.contains("<script>"));
    }
}
