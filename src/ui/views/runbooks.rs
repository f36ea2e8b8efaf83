//! The runbooks screen, drawn over the body of the view: the runbooks that apply to the
//! selected service; or one run — the dry-run plan exactly as `opsdeck runbook run --dry-run`
//! prints it, the confirmation box, each step with its state (a spinner on the running one,
//! elapsed times, the operation's status), a manual step's instructions, and the result.
//! Every text from a runbook, the plan or the engine goes through [`sanitize`].

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::app::App;
use crate::app::runbooks::{RunState, RunbookList, Stage, StepLine, StepState, step_elapsed};
use crate::runbook::engine::Outcome;
use crate::ui::Theme;
use crate::ui::text::sanitize;

/// The spinner's frames, one per second of the console's clock.
const SPINNER: [&str; 4] = ["◐", "◓", "◑", "◒"];

/// The runbooks screen of an app.
#[derive(Debug, Clone, Copy)]
pub struct RunbooksView<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for &RunbooksView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let desk = self.app.runbooks();
        let lines = if let Some(run) = desk.shown_run() {
            run_lines(self.app, run, self.theme, area)
        } else if let Some(list) = desk.list() {
            list_lines(list, desk.read_only(), self.theme, area)
        } else {
            return;
        };
        let width = usize::from(area.width);
        let lines: Vec<Line> = lines
            .into_iter()
            .map(|l| crate::ui::widgets::fit_line(l.spans, width))
            .collect();
        Paragraph::new(lines).render(area, buf);
    }
}

fn text(s: &str) -> String {
    sanitize(s).into_owned()
}

fn heading(title: &str, theme: &Theme) -> Line<'static> {
    Line::from(Span::styled(format!("── {title}"), theme.heading()))
}

fn list_lines(
    list: &RunbookList,
    read_only: bool,
    theme: &Theme,
    area: Rect,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!(
                " Runbooks for {} · {}",
                text(&list.service),
                text(&list.service_name)
            ),
            theme.heading(),
        ),
        Span::styled(
            if read_only { "   READ-ONLY" } else { "" }.to_string(),
            theme.warning(),
        ),
    ])];
    lines.push(Line::default());
    if list.items.is_empty() {
        lines.push(Line::from(Span::styled(
            "   no runbook applies to this service (opsdeck runbook list shows them all)",
            theme.muted(),
        )));
        return lines;
    }
    let id_w = list
        .items
        .iter()
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(10);
    for (i, c) in list.items.iter().enumerate() {
        let here = i == list.cursor;
        let style = if here { theme.cursor() } else { Style::new() };
        let mut spans = vec![Span::styled(
            format!(
                " {} {:<id_w$}  {}",
                if here { "▶" } else { " " },
                text(&c.id),
                text(&c.title)
            ),
            style,
        )];
        if c.destructive {
            spans.push(Span::styled("  destructive", theme.warning()));
        }
        if c.linked {
            spans.push(Span::styled("  linked in the estate", theme.muted()));
        }
        lines.push(Line::from(spans));
    }
    if let Some(summary) = list.items.get(list.cursor).and_then(|c| c.summary.as_ref()) {
        lines.push(Line::default());
        for l in wrap(&text(summary), usize::from(area.width).saturating_sub(4)) {
            lines.push(Line::from(Span::styled(format!("   {l}"), theme.muted())));
        }
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "   Enter shows the dry-run plan first; nothing runs before you confirm.",
        theme.muted(),
    )));
    lines
}

/// Splits text into lines of at most `width` characters, at spaces.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(20);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

fn stage_word(run: &RunState) -> &'static str {
    match run.stage {
        Stage::Params => "parameters",
        Stage::Planning => "reading the plan…",
        Stage::Confirm => "dry-run plan",
        Stage::Running => "running",
        Stage::Finished => "ended",
    }
}

fn run_lines(app: &App, run: &RunState, theme: &Theme, area: Rect) -> Vec<Line<'static>> {
    let mut top = vec![Line::from(vec![
        Span::styled(
            format!(" {} — {}", text(&run.runbook), text(&run.title)),
            theme.heading(),
        ),
        Span::raw(format!("  on {}", text(&run.target))),
        Span::styled(format!("   {}", stage_word(run)), theme.muted()),
    ])];
    if app.runbooks().read_only() || run.plan.as_ref().is_some_and(|p| p.read_only) {
        top.push(Line::from(Span::styled(
            " READ-ONLY: opsdeck shows the plan but will not act (--read-only, or the estate says so)",
            theme.warning(),
        )));
    }
    let mut bottom = Vec::new();
    let mut body = Vec::new();
    match run.stage {
        Stage::Params => params_lines(run, theme, &mut bottom),
        Stage::Planning => body.push(Line::from(Span::styled(
            " reading the target and preparing each request…",
            theme.muted(),
        ))),
        Stage::Confirm => {
            body.push(heading("Plan (dry run: nothing has been sent)", theme));
            if let Some(plan) = &run.plan {
                for l in plan.text().lines() {
                    body.push(Line::from(format!(" {}", text(l))));
                }
            }
            confirm_lines(run, theme, &mut bottom);
        }
        Stage::Running | Stage::Finished => {
            body.push(heading("Steps", theme));
            let now = app.runbook_clock();
            let spin = SPINNER[(now.timestamp().rem_euclid(4)) as usize];
            let mut failure_header = false;
            for s in &run.steps {
                if s.on_failure_only && !failure_header {
                    body.push(Line::from(Span::styled(" If a step fails:", theme.muted())));
                    failure_header = true;
                }
                body.push(step_line(s, spin, step_elapsed(s, now), theme));
                if let Some(d) = &s.detail {
                    body.push(Line::from(Span::styled(
                        format!("        {}", text(d)),
                        theme.muted(),
                    )));
                }
            }
            if !run.notes.is_empty() {
                body.push(heading("Notes", theme));
                for n in &run.notes {
                    body.push(Line::from(format!(" · {}", text(n))));
                }
            }
            if let Some((n, instructions)) = &run.manual {
                bottom.push(heading(
                    &format!("Manual step {n}: do this, then say"),
                    theme,
                ));
                for l in instructions.lines() {
                    bottom.push(Line::from(Span::styled(
                        format!("   {}", text(l)),
                        theme.strong(),
                    )));
                }
                bottom.push(Line::from(vec![
                    Span::raw("   "),
                    Span::styled("d", theme.key()),
                    Span::raw(" done   "),
                    Span::styled("x", theme.key()),
                    Span::raw(" stop the run here"),
                ]));
            }
            if let Some(outcome) = &run.outcome {
                outcome_lines(run, outcome, theme, &mut bottom);
            } else if app.runbooks().quit_armed() {
                bottom.push(Line::from(Span::styled(
                    " a run is in flight: q again stops it (recorded as interrupted) and quits",
                    theme.warning(),
                )));
            }
        }
    }
    // The body scrolls between the title and the confirmation, manual step or result.
    let room = usize::from(area.height).saturating_sub(top.len() + bottom.len());
    let max_scroll = body.len().saturating_sub(room);
    let skip = run.scroll.min(max_scroll);
    let mut lines = top;
    let shown = body.len().saturating_sub(skip).min(room);
    let cut = shown < body.len().saturating_sub(skip);
    lines.extend(body.into_iter().skip(skip).take(shown));
    if cut && let Some(last) = lines.last_mut() {
        *last = Line::from(Span::styled(" … ↓ for more", theme.muted()));
    }
    let pad = usize::from(area.height).saturating_sub(lines.len() + bottom.len());
    lines.extend(std::iter::repeat_n(Line::default(), pad));
    lines.extend(bottom);
    lines
}

fn step_line(s: &StepLine, spin: &str, elapsed: Option<Duration>, theme: &Theme) -> Line<'static> {
    let (mark, style) = match s.state {
        StepState::Pending => ("·", theme.muted()),
        StepState::Running => (spin, theme.accent()),
        StepState::Ok => ("✔", theme.ok()),
        StepState::Skipped => ("–", theme.muted()),
        StepState::Failed | StepState::CheckFailed => ("✖", theme.warning()),
    };
    let time = elapsed.map_or_else(String::new, |d| format!("  {:.1}s", d.as_secs_f64()));
    Line::from(vec![
        Span::styled(format!(" {mark} {:<12}", s.state.word()), style),
        Span::raw(format!(
            " {:>2}. {:<7} {}",
            s.n,
            text(&s.kind),
            text(&s.label)
        )),
        Span::styled(time, theme.muted()),
    ])
}

fn params_lines(run: &RunState, theme: &Theme, out: &mut Vec<Line<'static>>) {
    out.push(heading("Parameters", theme));
    for (name, value) in &run.given {
        out.push(Line::from(format!("   {}={}", text(name), text(value))));
    }
    if let Some(p) = run.param_asked() {
        let help = p
            .help
            .as_deref()
            .map(|h| format!(": {}", text(h)))
            .unwrap_or_default();
        out.push(Line::from(Span::styled(
            format!("   {} ({}, required){help}", text(&p.name), p.kind.name()),
            theme.muted(),
        )));
        out.push(typed_line(
            &format!("{}=", text(&p.name)),
            &run.typed,
            theme,
        ));
    }
    problem_line(run, theme, out);
}

fn typed_line(prompt: &str, typed: &str, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!(" > {prompt}"), theme.heading()),
        Span::styled(text(typed), theme.heading()),
        Span::styled(" ", theme.cursor()),
    ])
}

fn problem_line(run: &RunState, theme: &Theme, out: &mut Vec<Line<'static>>) {
    if let Some(p) = &run.problem {
        out.push(Line::from(Span::styled(
            format!("   {}", text(p)),
            theme.warning(),
        )));
    }
}

fn confirm_lines(run: &RunState, theme: &Theme, out: &mut Vec<Line<'static>>) {
    out.push(heading("Confirm", theme));
    let sev = run.plan.as_ref().map_or(0, |p| p.target_sev);
    if run.blocked_read_only() {
        out.push(Line::from(Span::styled(
            " read-only: this run would be refused before anything is sent. Esc goes back.",
            theme.warning(),
        )));
        return;
    }
    match run.confirmation() {
        "typed" => {
            out.push(Line::from(vec![
                Span::styled(
                    format!(" destructive, on a SEV{sev} target: type "),
                    theme.warning(),
                ),
                Span::styled(text(&run.target), theme.strong()),
                Span::styled(
                    " (the target's id) and press Enter to run it. Esc cancels.",
                    theme.warning(),
                ),
            ]));
            out.push(typed_line("", &run.typed, theme));
        }
        "none" => out.push(Line::from(vec![
            Span::raw(" nothing is changed by this runbook: "),
            Span::styled("y", theme.key()),
            Span::raw(" runs it, Esc cancels."),
        ])),
        _ => out.push(Line::from(vec![
            Span::raw(" "),
            Span::styled("y", theme.key()),
            Span::raw(" runs it (as --yes), Esc cancels; Enter alone does nothing."),
        ])),
    }
    problem_line(run, theme, out);
}

fn outcome_lines(run: &RunState, outcome: &Outcome, theme: &Theme, out: &mut Vec<Line<'static>>) {
    let style = if *outcome == Outcome::Done {
        theme.ok()
    } else {
        theme.warning()
    };
    let took = match (run.started, run.ended) {
        (Some(a), Some(b)) => format!(" in {}s", (b - a).num_seconds().max(0)),
        _ => String::new(),
    };
    out.push(heading("Result", theme));
    out.push(Line::from(vec![
        Span::styled(format!(" {}", outcome.word().to_uppercase()), style),
        Span::raw(format!("{took}: {}", text(&outcome.describe()))),
    ]));
    out.push(Line::from(Span::styled(
        " every step is in the audit log (opsdeck audit show). Esc closes this.",
        theme.muted(),
    )));
}
