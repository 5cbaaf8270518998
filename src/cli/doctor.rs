//! `tidings doctor [--json]`: the checklist, one line of advice under each failure or warning;
//! exit 1 when something a send needs is wrong. The report is kept for the admin dashboard.

use super::{CliError, Context, output};
use crate::doctor::{self, Report, Status};

pub async fn run(ctx: &Context) -> Result<(), CliError> {
    let app = ctx.app().await?;
    let report = doctor::examine(&app).await;
    let json = serde_json::to_string(&report).map_err(|e| CliError::runtime(format!("cannot write the report: {e}")))?;
    if let Err(e) = app.store.save_doctor_report(&json).await {
        tracing::warn!(error = %e, "cannot keep the doctor's report for the dashboard");
    }
    if ctx.json {
        output::json(&report)?;
    } else {
        print(&report);
    }
    if report.failed() {
        return Err(CliError::runtime(format!("{} of the checks failed: a send would not go out as it should (see the advice above)", report.count(Status::Fail))));
    }
    Ok(())
}

fn print(report: &Report) {
    let mut group = "";
    for check in &report.checks {
        if check.group != group {
            group = &check.group;
            println!("{}", heading(group));
        }
        println!("  {} {}: {}", check.status.symbol(), check.name, check.detail);
        if let Some(advice) = &check.advice {
            println!("      → {advice}");
        }
    }
    let (failed, warned) = (report.count(Status::Fail), report.count(Status::Warn));
    println!();
    println!("{failed} failed, {warned} warning{}, {} passed", if warned == 1 { "" } else { "s" }, report.count(Status::Pass));
}

fn heading(group: &str) -> &'static str {
    match group {
        "configuration" => "Configuration",
        "relay" => "Relay",
        "dns" => "DNS",
        _ => "Other",
    }
}
