//! Edits top-level keys of an existing pylayer.toml in place, keeping its comments and
//! layout: `pylayer init --python 3.11` on an initialised project changes that one line
//! instead of ignoring the flag.

/// Sets each `(key, value)` (the value as TOML, e.g. `["3.11"]`) among the top-level keys of
/// `text`: a one-line `key = …` is replaced; a missing key is added before the first table.
/// A key whose value spans several lines is not guessed at: the error says what to write.
pub fn set_top_level(text: &str, updates: &[(&str, String)]) -> Result<String, String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (key, value) in updates {
        let first_table = lines
            .iter()
            .position(|l| l.trim_start().starts_with('['))
            .unwrap_or(lines.len());
        let found = lines[..first_table].iter().position(|l| {
            l.split_once('=')
                .is_some_and(|(k, _)| k.trim() == *key && !l.trim_start().starts_with('#'))
        });
        let new_line = format!("{key} = {value}");
        match found {
            Some(i) => {
                if toml::from_str::<toml::Table>(&lines[i]).is_err() {
                    return Err(format!(
                        "`{key}` spans several lines; replace it with `{new_line}`"
                    ));
                }
                lines[i] = new_line;
            }
            None => {
                let at = if first_table > 0 && lines[first_table - 1].trim().is_empty() {
                    first_table - 1
                } else {
                    first_table
                };
                lines.insert(at, new_line);
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    // The result must still be TOML, with the values asked for.
    let parsed: toml::Table = toml::from_str(&out).map_err(|e| e.to_string())?;
    for (key, value) in updates {
        let want: toml::Table =
            toml::from_str(&format!("{key} = {value}")).map_err(|e| e.to_string())?;
        if parsed.get(*key) != want.get(*key) {
            return Err(format!(
                "could not set `{key}`; write `{key} = {value}` yourself"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_one_line_keeps_comments_and_adds_missing_keys_before_tables() {
        let text = "# comment\nname = \"demo\"\npython = [\"3.12\"]  # runtimes\n\n[publish]\nregions = [\"eu-west-1\"]\n";
        let out = set_top_level(
            text,
            &[
                ("python", "[\"3.11\"]".into()),
                ("arch", "[\"arm64\"]".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            "# comment\nname = \"demo\"\npython = [\"3.11\"]\narch = [\"arm64\"]\n\n[publish]\nregions = [\"eu-west-1\"]\n"
        );
        let err = set_top_level(
            "python = [\n  \"3.12\",\n]\n",
            &[("python", "[\"3.11\"]".into())],
        )
        .unwrap_err();
        assert!(err.contains("spans several lines"), "{err}");
    }
}
