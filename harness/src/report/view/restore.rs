//! A restore drill's lines for every report format: the recovery point and restore job
//! used, the switch, and the data age — AWS Backup's own times shown relative to the
//! view's origin.

use super::View;

/// One `(what, value)` line of the restore section.
pub type RestoreLine = (&'static str, String);

impl View<'_> {
    /// The restore section's lines; empty when the run was not a restore drill.
    pub fn restore_lines(&self) -> Vec<RestoreLine> {
        let Some(d) = &self.report.restore else {
            return Vec::new();
        };
        let t0 = self.report.t0_unix_ms;
        let at = |unix_ms: Option<i64>| unix_ms.map_or_else(|| "—".to_owned(), |t| self.at(t - t0));
        let ms = |v: Option<i64>| v.map_or_else(|| "—".to_owned(), |v| format!("{:.2} s", v as f64 / 1000.0));
        let mut lines = vec![
            (
                "recovery point",
                format!("{} (vault {}, {})", d.recovery_point_arn, d.vault, d.region),
            ),
            (
                "recovery point created (AWS Backup)",
                at(Some(d.recovery_point_creation_unix_ms)),
            ),
            (
                "restore job",
                format!(
                    "{} ({})",
                    d.restore_job_id,
                    d.status.as_ref().map_or("not ended", |s| s.as_str())
                ),
            ),
            ("restore job created (AWS Backup)", at(d.job_creation_unix_ms)),
            ("restore job completed (AWS Backup)", at(d.job_completion_unix_ms)),
            ("restore job duration", ms(d.restore_job_ms)),
            (
                "restored resource",
                d.created_resource_arn.clone().unwrap_or_else(|| "—".to_owned()),
            ),
        ];
        if let Some(id) = &d.switch_experiment_id {
            lines.push((
                "switch experiment",
                format!(
                    "{id} ({})",
                    d.switch_status.as_ref().map_or("not ended", |s| s.as_str())
                ),
            ));
        }
        lines.push(("data age at restore (completion − recovery point)", ms(d.data_age_ms)));
        lines.push(("data age when serving again", ms(d.data_age_at_serving_ms)));
        lines
    }
}
