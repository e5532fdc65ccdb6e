//! The one way a Markdown table is written: a header and rows of cells, laid out either
//! with aligned columns ([`MarkdownTable::aligned`]: the history's trend table and the
//! comparison of two runs, read in a terminal too) or compact ([`MarkdownTable::compact`]:
//! the tables of `summary.md` and of the game day's summary, read rendered).

/// A Markdown table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MarkdownTable {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl MarkdownTable {
    /// A table with these column names and no rows.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> MarkdownTable {
        MarkdownTable {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row, one cell per column.
    pub fn row<S: Into<String>>(mut self, cells: impl IntoIterator<Item = S>) -> MarkdownTable {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// Adds rows.
    pub fn rows<R, S>(self, rows: impl IntoIterator<Item = R>) -> MarkdownTable
    where
        R: IntoIterator<Item = S>,
        S: Into<String>,
    {
        rows.into_iter().fold(self, MarkdownTable::row)
    }

    /// Every cell padded to its column's width (at least 3), the separator row of dashes
    /// as wide; each line ends with a newline.
    pub fn aligned(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                self.lines()
                    .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                    .chain([3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let mut out = line(&self.header);
        out.push_str(&line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>()));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }

    /// Cells as they are, the separator row `|---|---|`; lines separated by newlines,
    /// none after the last (the template places it).
    pub fn compact(&self) -> String {
        let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
        let separator = format!("|{}", "---|".repeat(self.header.len()));
        std::iter::once(line(&self.header))
            .chain([separator])
            .chain(self.rows.iter().map(|r| line(r)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn lines(&self) -> impl Iterator<Item = &Vec<String>> {
        std::iter::once(&self.header).chain(&self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Aligned columns are as wide as their widest cell (counted in characters), at least 3.
    #[test]
    fn aligned_pads_every_column() {
        let t = MarkdownTable::new(["a", "name"])
            .row(["±1", "x"])
            .row(["long cell", ""]);
        assert_eq!(
            t.aligned(),
            "| a         | name |\n| --------- | ---- |\n| ±1        | x    |\n| long cell |      |\n"
        );
    }

    /// Compact tables keep cells as they are.
    #[test]
    fn compact_keeps_cells() {
        let t = MarkdownTable::new(["a", "b"]).row(["1", ""]);
        assert_eq!(t.compact(), "| a | b |\n|---|---|\n| 1 |  |");
    }
}
