//! Figures as people read them, each in the unit its record carries.

use crate::metric::Figure;

/// One `name = value` line per figure, for JUnit system-out.
pub fn format_figures(figures: &[Figure]) -> String {
    figures
        .iter()
        .map(|figure| format!("{} = {}", figure.name, figure.display_value()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::Unit;

    #[test]
    fn every_figure_in_its_own_unit() {
        let figures = [
            Figure::new("latency", 0.0123),
            Figure::new("http_status", 200.0),
            Figure::new("tokens_per_s", 131.256),
            Figure {
                name: "error_rate".into(),
                value: 0.025,
                unit: Unit::Ratio,
            },
        ];
        assert_eq!(
            format_figures(&figures),
            "latency = 12.3ms\nhttp_status = 200\ntokens_per_s = 131.256\nerror_rate = 2.5%"
        );
    }
}
