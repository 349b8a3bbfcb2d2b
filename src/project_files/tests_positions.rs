//! Positions and types: errors point at the offending value's `line:column` wherever the value
//! sits — inside an inline table, under a dotted key, deep in a multi-line array — and values
//! of the wrong type are errors that name the type expected (never read as "any version").

use std::path::{Path, PathBuf};

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn options(extras: &[&str], groups: &[&str]) -> ProjectOptions {
    ProjectOptions {
        extras: extras.iter().map(|s| s.to_string()).collect(),
        groups: groups.iter().map(|s| s.to_string()).collect(),
        all_extras: false,
    }
}

fn read(path: &Path, opts: &ProjectOptions) -> Result<RequirementsInput, String> {
    let kind = kind_of(path).expect("a project file name");
    let mut input = RequirementsInput::default();
    read_into(path, kind, opts, &mut input).map_err(|e| e.to_string())?;
    Ok(input)
}

fn error(path: &Path, opts: &ProjectOptions) -> String {
    match read(path, opts) {
        Ok(input) => panic!(
            "expected an error, read {} requirements",
            input.requirements.len()
        ),
        Err(e) => e,
    }
}

/// Asserts `message` starts with `path:` + `rest`.
fn assert_at(message: &str, path: &Path, rest: &str) {
    let prefix = format!("{}:{rest}", path.display());
    assert!(
        message.starts_with(&prefix),
        "expected `{prefix}…`, got: {message}"
    );
}

#[test]
fn poetry_version_of_the_wrong_type_is_an_error_at_the_value() {
    let dir = tempfile::tempdir().unwrap();
    // Before, `{version = 5}` was read as "any version".
    let text = "[tool.poetry]\nname = \"x\"\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\nrequests = {version = 5}\n";
    let path = write(dir.path(), "pyproject.toml", text);
    let message = error(&path, &options(&[], &[]));
    assert_at(
        &message,
        &path,
        "6:23: `[tool.poetry.dependencies].requests.version` must be a version constraint \
         string; found an integer (5); write it as a quoted constraint: version = \"^1.2\"",
    );
}

#[test]
fn poetry_dependency_fields_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    for (spec, rest) in [
        (
            "{ version = \"^2\", python = 3.11 }",
            "6:39: `[tool.poetry.dependencies].requests.python` must be a version constraint \
             string; found a float (3.11)",
        ),
        (
            "{ version = \"^2\", optional = \"yes\" }",
            "6:41: `[tool.poetry.dependencies].requests.optional` must be true or false; found a \
             string (\"yes\")",
        ),
        (
            "{ version = \"^2\", extras = \"socks\" }",
            "6:39: `[tool.poetry.dependencies].requests.extras` must be an array of strings; \
             found a string (\"socks\")",
        ),
        (
            "{ version = \"^2\", markers = [\"linux\"] }",
            "6:40: `[tool.poetry.dependencies].requests.markers` must be a marker string; found \
             an array",
        ),
        (
            "2.31",
            "6:12: `[tool.poetry.dependencies].requests` must be a version string or a table; \
             found a float (2.31)",
        ),
    ] {
        let text = format!(
            "[tool.poetry]\nname = \"x\"\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\nrequests = {spec}\n"
        );
        let path = write(dir.path(), "pyproject.toml", &text);
        assert_at(&error(&path, &options(&[], &[])), &path, rest);
    }
}

#[test]
fn error_inside_an_inline_table_of_a_multi_line_array_points_at_the_value() {
    let dir = tempfile::tempdir().unwrap();
    // A Poetry multiple-constraints dependency: the second table's `python` is wrong.
    let text = "[tool.poetry]\nname = \"x\"\n\n[tool.poetry.dependencies]\nnumpy = [\n    { version = \"<2\", python = \"<3.10\" },\n    { version = \"^2.0\", python = \"^3.10 || ^3.x\" },\n]\n";
    let path = write(dir.path(), "pyproject.toml", text);
    let message = error(&path, &options(&[], &[]));
    assert_at(
        &message,
        &path,
        "7:34: cannot use version constraint `^3.10 || ^3.x` of `numpy`",
    );
}

#[test]
fn errors_under_dotted_keys_point_at_the_value() {
    let dir = tempfile::tempdir().unwrap();
    // `optional-dependencies.cli` is a dotted key inside [project]: the old text scanner
    // could not find `cli` and blamed the [project] header.
    let text = "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = []\noptional-dependencies.cli = [\n    \"click>=8\",\n    \"rich >>= 1\",\n]\n";
    let path = write(dir.path(), "pyproject.toml", text);
    let message = error(&path, &options(&["cli"], &[]));
    assert_at(&message, &path, "7:5: invalid requirement `rich >>= 1`");
    // The good entries get their own lines.
    let fixed = text.replace("rich >>= 1", "rich>=1");
    let path = write(dir.path(), "pyproject.toml", &fixed);
    let input = read(&path, &options(&["cli"], &[])).unwrap();
    let lines: Vec<usize> = input.requirements.iter().map(|r| r.line).collect();
    assert_eq!(lines, [6, 7]);

    // A whole Poetry project written with dotted keys at the top level.
    let text = "tool.poetry.name = \"x\"\ntool.poetry.dependencies.python = \"^3.11\"\ntool.poetry.dependencies.boto3 = \"~1.34\"\ntool.poetry.dependencies.requests = { version = true }\n";
    let path = write(dir.path(), "pyproject.toml", text);
    let message = error(&path, &options(&[], &[]));
    assert_at(
        &message,
        &path,
        "4:49: `[tool.poetry.dependencies].requests.version` must be a version constraint \
         string; found a boolean (true)",
    );
    let fixed = text.replace("version = true", "version = \"^2\"");
    let path = write(dir.path(), "pyproject.toml", &fixed);
    let input = read(&path, &options(&[], &[])).unwrap();
    let lines: Vec<(String, usize)> = input
        .requirements
        .iter()
        .map(|r| (r.requirement.name.to_string(), r.line))
        .collect();
    assert_eq!(
        lines,
        [("boto3".to_string(), 3), ("requests".to_string(), 4)]
    );
}

#[test]
fn wrong_entry_in_a_multi_line_array_is_reported_at_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = [\n    \"requests\",\n    \"boto3\",\n        42,\n]\n";
    let path = write(dir.path(), "pyproject.toml", text);
    let message = error(&path, &options(&[], &[]));
    assert_at(
        &message,
        &path,
        "7:9: `[project].dependencies` must be a list of requirement strings; found an array \
         holding an integer (42)",
    );

    // PEP 735 groups: an entry that is neither a string nor a table.
    let text = "[project]\nname = \"x\"\nversion = \"1\"\n\n[dependency-groups]\ntest = [\n  \"pytest\",\n  [\"moto\"],\n]\n";
    let path = write(dir.path(), "pyproject.toml", text);
    let message = error(&path, &options(&[], &["test"]));
    assert_at(
        &message,
        &path,
        "8:3: `[dependency-groups].test entry` must be a requirement string or \
         {include-group = \"NAME\"}; found an array",
    );
    // …and an include-group that is not a string, inside an inline table.
    let text = text.replace("[\"moto\"]", "{ include-group = 3 }");
    let path = write(dir.path(), "pyproject.toml", &text);
    let message = error(&path, &options(&[], &["test"]));
    assert_at(
        &message,
        &path,
        "8:21: `[dependency-groups].test include-group` must be a string; found an integer (3)",
    );
}

#[test]
fn uv_lock_marker_inside_an_inline_table_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let text = "version = 1\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\ndependencies = [\n    { name = \"idna\" },\n    { name = \"six\", marker = \"sys_platform ==\" },\n]\n\n[[package]]\nname = \"idna\"\nversion = \"3.10\"\nsource = { registry = \"https://pypi.org/simple\" }\n\n[[package]]\nname = \"six\"\nversion = \"1.17.0\"\nsource = { registry = \"https://pypi.org/simple\" }\n";
    let path = write(dir.path(), "uv.lock", text);
    let message = error(&path, &options(&[], &[]));
    assert_at(&message, &path, "9:30: invalid marker `sys_platform ==`");

    let wrong = text.replace("marker = \"sys_platform ==\"", "marker = 1");
    let path = write(dir.path(), "uv.lock", &wrong);
    let message = error(&path, &options(&[], &[]));
    assert_at(
        &message,
        &path,
        "9:30: `six.marker` must be a string; found an integer (1)",
    );

    let fine = text.replace(", marker = \"sys_platform ==\"", "");
    let path = write(dir.path(), "uv.lock", &fine);
    let input = read(&path, &options(&[], &[])).unwrap();
    let lines: Vec<usize> = input.requirements.iter().map(|r| r.line).collect();
    assert_eq!(lines, [8, 9]);
    let pins: Vec<usize> = input.constraints.iter().map(|r| r.line).collect();
    assert_eq!(
        pins,
        [13, 18],
        "constraints sit on their package's `name` line"
    );
}

#[test]
fn poetry_lock_values_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[[package]]\nname = \"six\"\nversion = \"1.17.0\"\noptional = false\ngroups = [\"main\"]\nmarkers = 5\nfiles = []\n";
    let path = write(dir.path(), "poetry.lock", text);
    let message = error(&path, &options(&[], &[]));
    assert_at(
        &message,
        &path,
        "6:11: `markers of `six`` must be a string or a table; found an integer (5)",
    );
    let text = text
        .replace("markers = 5\n", "")
        .replace("files = []", "files = \"six.whl\"");
    let path = write(dir.path(), "poetry.lock", &text);
    let message = error(&path, &options(&[], &[]));
    assert_at(
        &message,
        &path,
        "6:9: `files of `six`` must be an array; found a string (\"six.whl\")",
    );
    let text = "[[package]]\nname = \"six\"\nversion = 1.17\n";
    let path = write(dir.path(), "poetry.lock", text);
    let message = error(&path, &options(&[], &[]));
    assert_at(
        &message,
        &path,
        "3:11: `version of `six`` must be a string; found a float (1.17)",
    );
}

#[test]
fn long_or_control_character_values_are_shortened_and_escaped_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(5000);
    let text = format!(
        "[tool.poetry]\nname = \"x\"\n\n[tool.poetry.dependencies]\nrequests = {{ version = \"^2\", optional = \"{long}\\u0000\" }}\n"
    );
    let path = write(dir.path(), "pyproject.toml", &text);
    let message = error(&path, &options(&[], &[]));
    assert!(message.len() < 400, "{} bytes: {message}", message.len());
    assert!(!message.contains('\0'));
    assert!(message.contains("found a string (\"xxx"), "{message}");
}
