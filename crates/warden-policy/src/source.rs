//! Bundle files held in memory, and load errors that point at `file:line`.

use std::fmt;
use std::path::{Path, PathBuf};

/// One file of a bundle, with its path as shown in messages.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path relative to the bundle root, with `/` separators.
    pub name: String,
    /// The file's text.
    pub text: String,
}

impl SourceFile {
    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text
            .as_bytes()
            .get(..end)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
            + 1
    }

    /// An error at byte `offset` of this file.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> LoadError {
        LoadError {
            file: self.name.clone(),
            line: Some(self.line_of(offset)),
            message: message.into(),
        }
    }
}

/// Something wrong with a bundle, where it is and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file at fault.
    pub file: String,
    /// The line at fault, when one is.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl LoadError {
    /// An error about a whole file (or the bundle when `file` is the bundle path).
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every error found while loading a bundle, in file and line order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<LoadError> for LoadErrors {
    fn from(e: LoadError) -> Self {
        Self(vec![e])
    }
}

/// Reads the files matching `dir/*.ext` in name order, named relative to `root`.
pub fn read_dir_files(root: &Path, dir: &Path, ext: &str) -> Result<Vec<SourceFile>, LoadError> {
    let display = relative_name(root, dir);
    let entries = std::fs::read_dir(dir)
        .map_err(|e| LoadError::file(&display, format!("cannot read directory: {e}")))?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| LoadError::file(&display, format!("cannot read directory: {e}")))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == ext) && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    paths.iter().map(|p| read_file(root, p)).collect()
}

/// Reads one file, named relative to `root`.
pub fn read_file(root: &Path, path: &Path) -> Result<SourceFile, LoadError> {
    let name = relative_name(root, path);
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::file(&name, format!("cannot read file: {e}")))?;
    Ok(SourceFile { name, text })
}

fn relative_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        let f = SourceFile {
            name: "x".into(),
            text: "a\nb\nc".into(),
        };
        assert_eq!(f.line_of(0), 1);
        assert_eq!(f.line_of(2), 2);
        assert_eq!(f.line_of(4), 3);
        assert_eq!(f.line_of(999), 3);
    }
}
