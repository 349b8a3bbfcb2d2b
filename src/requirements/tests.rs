//! Unit tests of the requirements reader.

use super::*;
use std::fs;

const SHA_LOWER: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SHA_UPPER: &str = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
const SHA_OTHER: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const FILE: &str = "/proj/requirements.txt";

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse_as(content: &str, kind: LineKind) -> Result<RequirementsInput, RequirementsError> {
    let mut input = RequirementsInput::default();
    parse_str_with_env(content, Path::new(FILE), kind, &mut input, &no_env)?;
    Ok(input)
}

fn parse(content: &str) -> RequirementsInput {
    match parse_as(content, LineKind::Requirement) {
        Ok(input) => input,
        Err(error) => panic!("unexpected error: {error}"),
    }
}

fn parse_err(content: &str) -> RequirementsError {
    match parse_as(content, LineKind::Requirement) {
        Ok(input) => panic!("expected an error, got {input:?}"),
        Err(error) => error,
    }
}

/// Asserts the message starts with `location: ` and contains every fragment.
fn assert_message(error: &RequirementsError, location: &str, fragments: &[&str]) {
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{location}: ")),
        "message does not start with {location}: {message}"
    );
    for fragment in fragments {
        assert!(
            message.contains(fragment),
            "message lacks {fragment:?}: {message}"
        );
    }
}

fn names(reqs: &[SourcedRequirement]) -> Vec<String> {
    reqs.iter()
        .map(|r| r.requirement.name.to_string())
        .collect()
}

fn write(dir: &Path, relative: &str, content: &str) -> PathBuf {
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create dir");
    }
    fs::write(&path, content).expect("write file");
    path
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn read(requirements: &[PathBuf], constraints: &[PathBuf]) -> RequirementsInput {
    match read_files(requirements, constraints) {
        Ok(input) => input,
        Err(error) => panic!("unexpected error: {error}"),
    }
}

fn read_err(requirements: &[PathBuf]) -> RequirementsError {
    match read_files(requirements, &[]) {
        Ok(input) => panic!("expected an error, got {input:?}"),
        Err(error) => error,
    }
}

fn url_of(req: &SourcedRequirement) -> String {
    match &req.requirement.version_or_url {
        Some(VersionOrUrl::Url(url)) => url.to_string(),
        other => panic!("expected a URL, got {other:?}"),
    }
}

// ---- requirement lines -------------------------------------------------------------

#[test]
fn pep508_lines_with_extras_specifiers_and_markers() {
    let input = parse(
        "requests==2.32.3\n\
         foo[bar,baz]>=1.0,<2; python_version < \"3.12\"\n\
         Django ~= 5.0\n\
         zope.interface\n",
    );
    assert_eq!(
        names(&input.requirements),
        ["requests", "foo", "django", "zope-interface"]
    );
    let foo = &input.requirements[1].requirement;
    assert_eq!(foo.extras.len(), 2);
    assert!(foo.marker.contents().is_some());
    match &foo.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(spec)) => assert_eq!(spec.len(), 2),
        other => panic!("expected specifiers, got {other:?}"),
    }
    assert_eq!(input.requirements[1].line, 2);
    assert_eq!(input.requirements[1].location(), format!("{FILE}:2"));
    assert!(input.constraints.is_empty());
    assert!(input.files.is_empty());
}

#[test]
fn direct_reference_to_wheel_url() {
    let input = parse(&format!(
        "numpy @ https://example.com/wheels/numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl#sha256={SHA_LOWER} ; python_version >= \"3.12\"\n"
    ));
    let req = &input.requirements[0];
    assert_eq!(req.requirement.name.to_string(), "numpy");
    assert!(url_of(req).contains(&format!("#sha256={SHA_LOWER}")));
    assert!(req.requirement.marker.contents().is_some());
}

#[test]
fn bare_wheel_url_gets_name_from_filename() {
    let input = parse(
        "https://example.com/a/Typing_Extensions-4.12.2-py3-none-any.whl ; python_version < \"3.13\"\n\
         https://example.com/b/my%5Fpkg-1.0-1-py3-none-any.whl\n",
    );
    assert_eq!(names(&input.requirements), ["typing-extensions", "my-pkg"]);
    assert!(
        input.requirements[0]
            .requirement
            .marker
            .contents()
            .is_some()
    );
    assert!(url_of(&input.requirements[0]).starts_with("https://example.com/a/"));
}

#[test]
fn local_wheel_paths_and_file_urls_are_allowed() {
    let dir = tempdir();
    let wheel = write(
        dir.path(),
        "dist/demo_pkg-0.1.0-py3-none-any.whl",
        "not really a zip",
    );
    let file = write(
        dir.path(),
        "requirements.txt",
        &format!(
            "./dist/demo_pkg-0.1.0-py3-none-any.whl[cli] ; python_version >= \"3.9\"\n\
             demo-pkg @ {}\n\
             {}\n\
             Demo.Pkg[cli] @ ./dist/demo_pkg-0.1.0-py3-none-any.whl ; os_name == \"posix\"\n",
            url::Url::from_file_path(&wheel).expect("file url"),
            url::Url::from_file_path(&wheel).expect("file url"),
        ),
    );
    let input = read(&[file], &[]);
    assert_eq!(
        names(&input.requirements),
        ["demo-pkg", "demo-pkg", "demo-pkg", "demo-pkg"]
    );
    assert_eq!(
        url_of(&input.requirements[3]),
        url_of(&input.requirements[0])
    );
    assert!(
        input.requirements[3]
            .requirement
            .marker
            .contents()
            .is_some()
    );
    assert_eq!(input.requirements[3].requirement.extras.len(), 1);
    let first = &input.requirements[0];
    assert_eq!(first.requirement.extras.len(), 1);
    assert!(first.requirement.marker.contents().is_some());
    assert!(url_of(first).starts_with("file:///"));
    assert!(url_of(first).ends_with("/dist/demo_pkg-0.1.0-py3-none-any.whl"));

    let mut input = RequirementsInput::default();
    let error = parse_str_with_env(
        "other @ ./dist/demo_pkg-0.1.0-py3-none-any.whl\n",
        &dir.path().join("requirements.txt"),
        LineKind::Requirement,
        &mut input,
        &no_env,
    )
    .expect_err("name mismatch");
    assert!(
        matches!(error, RequirementsError::WheelNameMismatch { .. }),
        "{error}"
    );
}

#[test]
fn bare_wheel_filename_without_directory_is_a_path() {
    let error = parse_err("demo-1.0-py3-none-any.whl\n");
    assert_message(
        &error,
        &format!("{FILE}:1"),
        &["/proj/demo-1.0-py3-none-any.whl", "does not exist"],
    );
}

#[test]
fn bare_archive_name_is_a_local_file_like_in_pip() {
    let error = parse_err("jaraco.zip\n");
    assert!(
        matches!(error, RequirementsError::LocalSource { .. }),
        "{error}"
    );
    assert_message(&error, &format!("{FILE}:1"), &["`jaraco.zip`"]);
}

// ---- comments, continuations, encodings ---------------------------------------------

#[test]
fn comments_and_blank_lines() {
    let input = parse(
        "# a comment\n\
         \n\
         requests  # trailing comment\n   \n\
         \t# indented comment\n\
         flask\t# tab before the comment\n",
    );
    assert_eq!(names(&input.requirements), ["requests", "flask"]);
    assert_eq!(input.requirements[0].line, 3);
    assert_eq!(input.requirements[1].line, 6);
    // A `#` not preceded by whitespace does not start a comment (pip's rule), so this
    // stays part of the requirement and is invalid.
    let error = parse_err("flask>=3#not-a-comment\n");
    assert_message(&error, &format!("{FILE}:1"), &["invalid requirement"]);
}

#[test]
fn hash_fragment_in_url_is_not_a_comment() {
    let input = parse(&format!(
        "https://example.com/x/six-1.16.0-py2.py3-none-any.whl#sha256={SHA_LOWER} # real comment\n"
    ));
    assert!(url_of(&input.requirements[0]).ends_with(&format!("#sha256={SHA_LOWER}")));
}

#[test]
fn continuations_join_lines_and_keep_the_first_line_number() {
    let input = parse(&format!(
        "# header\n\
         requests==2.32.3 \\\n    --hash=sha256:{SHA_LOWER} \\\n    --hash=sha256:{SHA_OTHER}\n\
         flask\\\n>=3.0\n\
         six \\\n# a comment ends the continuation\n\
         attrs\n\
         idna \\"
    ));
    assert_eq!(
        names(&input.requirements),
        ["requests", "flask", "six", "attrs", "idna"]
    );
    let lines: Vec<usize> = input.requirements.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 5, 7, 9, 10]);
    assert_eq!(input.requirements[0].hashes.len(), 2);
    assert_eq!(input.requirements[1].requirement.to_string(), "flask>=3.0");
}

#[test]
fn comment_line_ending_in_backslash_is_not_a_continuation() {
    let input = parse("# comment \\\nrequests\n");
    assert_eq!(names(&input.requirements), ["requests"]);
    assert_eq!(input.requirements[0].line, 2);
}

#[test]
fn crlf_line_endings_and_bom() {
    let input = parse("\u{feff}requests \\\r\n  >=2\r\n# c\r\nflask\r\n");
    assert_eq!(names(&input.requirements), ["requests", "flask"]);
    assert_eq!(input.requirements[1].line, 4);
}

#[test]
fn files_in_utf8_with_bom_and_utf16_are_decoded() {
    let dir = tempdir();
    let utf8 = dir.path().join("utf8.txt");
    fs::write(&utf8, b"\xEF\xBB\xBFrequests\r\n").expect("write");
    let utf16 = dir.path().join("utf16.txt");
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "flask==3.0.0\r\n".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    fs::write(&utf16, bytes).expect("write");
    let input = read(&[utf8.clone(), utf16.clone()], &[]);
    assert_eq!(names(&input.requirements), ["requests", "flask"]);
    assert_eq!(input.files, [utf8, utf16]);

    let binary = dir.path().join("binary.txt");
    fs::write(&binary, b"\xC3\x28\xFF").expect("write");
    let error = read_err(std::slice::from_ref(&binary));
    assert!(matches!(error, RequirementsError::Encoding { .. }));
    assert!(error.to_string().starts_with(&binary.display().to_string()));
}

// ---- environment variables -----------------------------------------------------------

#[test]
fn env_vars_expand_like_pip() {
    let env = |name: &str| match name {
        "INDEX_HOST" => Some("pypi.example.com".to_string()),
        "EMPTY" => Some(String::new()),
        "PKG_1" => Some("requests".to_string()),
        _ => None,
    };
    let mut input = RequirementsInput::default();
    parse_str_with_env(
        "--index-url https://${INDEX_HOST}/simple\n\
         --extra-index-url https://${UNSET_VAR}/x/${EMPTY}/${lower}/$HOME/${INDEX_HOST\n\
         ${PKG_1}>=2\n",
        Path::new(FILE),
        LineKind::Requirement,
        &mut input,
        &env,
    )
    .expect("parses");
    assert_eq!(
        input.index_url.as_deref(),
        Some("https://pypi.example.com/simple")
    );
    assert_eq!(
        input.extra_index_urls,
        ["https://${UNSET_VAR}/x/${EMPTY}/${lower}/$HOME/${INDEX_HOST"]
    );
    assert_eq!(names(&input.requirements), ["requests"]);
}

#[test]
fn env_vars_expand_after_comment_stripping() {
    let env = |name: &str| (name == "C").then(|| "#not-a-comment".to_string());
    assert_eq!(expand_env_vars("a ${C} b", &env), "a #not-a-comment b");
    let mut input = RequirementsInput::default();
    parse_str_with_env(
        "--extra-index-url https://h/${C}\n",
        Path::new(FILE),
        LineKind::Requirement,
        &mut input,
        &env,
    )
    .expect("parses");
    assert_eq!(input.extra_index_urls, ["https://h/#not-a-comment"]);
}

#[test]
fn process_environment_is_used_by_parse_str() {
    let mut input = RequirementsInput::default();
    parse_str(
        "--index-url https://${PYLAYER_TEST_SURELY_UNSET_4711}/simple\n",
        Path::new(FILE),
        LineKind::Requirement,
        &mut input,
    )
    .expect("parses");
    assert_eq!(
        input.index_url.as_deref(),
        Some("https://${PYLAYER_TEST_SURELY_UNSET_4711}/simple")
    );
}

// ---- hashes --------------------------------------------------------------------------

#[test]
fn hashes_are_collected_lower_cased_and_deduplicated() {
    let input = parse(&format!(
        "requests==2.32.3 --hash=sha256:{SHA_UPPER} --hash sha256:{SHA_OTHER} --hash=SHA256:{SHA_LOWER}\n\
         flask==3.0.0\n"
    ));
    assert_eq!(
        input.requirements[0].hashes,
        [format!("sha256:{SHA_LOWER}"), format!("sha256:{SHA_OTHER}")]
    );
    assert!(input.requirements[1].hashes.is_empty());
}

#[test]
fn invalid_hashes_are_errors() {
    let error = parse_err(&format!("\nrequests --hash=md5:{SHA_LOWER}\n"));
    assert_message(&error, &format!("{FILE}:2"), &["md5:", "sha256"]);
    let error = parse_err("requests --hash=sha256:abc\n");
    assert_message(&error, &format!("{FILE}:1"), &["64 hexadecimal digits"]);
    let error = parse_err(&format!("requests --hash={SHA_LOWER}\n"));
    assert_message(&error, &format!("{FILE}:1"), &["expected `sha256:"]);
    let error = parse_err(&format!("--hash=sha256:{SHA_LOWER}\n"));
    assert!(matches!(
        error,
        RequirementsError::HashWithoutRequirement { .. }
    ));
    assert_message(&error, &format!("{FILE}:1"), &["must follow a requirement"]);
    let error = parse_err("requests --hash\n");
    assert_message(&error, &format!("{FILE}:1"), &["`--hash` needs a value"]);
}

// ---- options -------------------------------------------------------------------------

#[test]
fn index_options() {
    let input = parse(
        "-i https://first.example/simple\n\
         --index-url=https://second.example/simple\n\
         --extra-index-url https://extra.example/simple\n\
         --extra-index-url=https://extra2.example/simple\n\
         --extra-index-url https://extra.example/simple\n\
         -ihttps://third.example/simple\n\
         --no-index --pre\n\
         --prefer-binary\n\
         --trusted-host example.com\n\
         --require-hashes\n\
         --use-feature=truststore\n\
         --only-binary=:all:\n\
         --only-binary numpy,pandas,,scipy\n\
         --no-binary :none:\n",
    );
    assert_eq!(input.no_binary, [":none:"]);
    assert_eq!(
        input.index_url.as_deref(),
        Some("https://third.example/simple")
    );
    assert_eq!(
        input.extra_index_urls,
        [
            "https://extra.example/simple",
            "https://extra2.example/simple"
        ]
    );
    assert!(input.no_index);
    assert!(input.pre);
    assert_eq!(input.only_binary, [":all:", "numpy", "pandas", "scipy"]);
    assert!(input.requirements.is_empty());
}

#[test]
fn defaults_when_no_options() {
    let input = parse("requests\n");
    assert_eq!(input.index_url, None);
    assert!(!input.no_index && !input.pre);
    assert!(input.extra_index_urls.is_empty() && input.find_links.is_empty());
    assert!(input.only_binary.is_empty());
}

#[test]
fn find_links_relative_to_the_file_directory() {
    let dir = tempdir();
    let file = write(
        dir.path(),
        "sub/requirements.txt",
        "-f ./wheels\n\
         --find-links=https://example.com/links/\n\
         --find-links /abs/wheels\n\
         --find-links \"my wheels\"\n\
         -f wheels\n",
    );
    let input = read(&[file], &[]);
    let sub = std::path::absolute(dir.path().join("sub")).expect("absolute");
    assert_eq!(
        input.find_links,
        [
            sub.join("wheels").to_string_lossy().into_owned(),
            "https://example.com/links/".to_string(),
            "/abs/wheels".to_string(),
            sub.join("my wheels").to_string_lossy().into_owned(),
        ]
    );
}

#[test]
fn no_binary_values_are_kept_in_order() {
    let input = parse("requests\n--no-binary :all:\n--no-binary=numpy,,Pandas\n");
    assert_eq!(input.no_binary, [":all:", "numpy", "Pandas"]);
    assert_eq!(input.requirements.len(), 1);
    let error = parse_err("--only-binary numpy,no!pe\n");
    assert!(matches!(error, RequirementsError::BinaryOption { .. }));
    assert_message(
        &error,
        &format!("{FILE}:1"),
        &["`no!pe` is not a package name"],
    );
}

#[test]
fn unknown_and_malformed_options_are_errors() {
    let error = parse_err("requests\n\n--frobnicate\n");
    assert_message(
        &error,
        &format!("{FILE}:3"),
        &["unknown option `--frobnicate`"],
    );
    let error = parse_err("--index-url=https://x --bogus=1\n");
    assert_message(&error, &format!("{FILE}:1"), &["`--bogus`"]);
    let error = parse_err("-x foo\n");
    assert_message(&error, &format!("{FILE}:1"), &["`-x`"]);
    let error = parse_err("--index-url\n");
    assert_message(
        &error,
        &format!("{FILE}:1"),
        &["`--index-url` needs a value"],
    );
    let error = parse_err("-r\n");
    assert_message(&error, &format!("{FILE}:1"), &["`-r` needs a value"]);
    let error = parse_err("--pre=yes\n");
    assert_message(&error, &format!("{FILE}:1"), &["`--pre` takes no value"]);
    let error = parse_err("--pre requests\n");
    assert_message(&error, &format!("{FILE}:1"), &["unexpected `requests`"]);
    let error = parse_err("-f 'unclosed\n");
    assert_message(&error, &format!("{FILE}:1"), &["unterminated quote"]);
}

#[test]
fn file_options_after_a_requirement_are_errors() {
    let error = parse_err("requests --index-url https://x/simple\n");
    assert!(matches!(error, RequirementsError::MisplacedOption { .. }));
    assert_message(
        &error,
        &format!("{FILE}:1"),
        &["`--index-url`", "line of its own"],
    );
}

#[test]
fn build_options_are_errors() {
    for line in [
        "requests --global-option=--no-user-cfg",
        "requests --config-settings key=value",
        "requests -C key=value",
        "--global-option foo",
        "requests --install-option=--prefix=/x",
    ] {
        let error = parse_err(line);
        assert!(
            matches!(error, RequirementsError::BuildOption { .. }),
            "{line}: {error}"
        );
        assert_message(&error, &format!("{FILE}:1"), &["build backend"]);
    }
}

// ---- includes ------------------------------------------------------------------------

#[test]
fn includes_are_relative_to_the_including_file() {
    let dir = tempdir();
    let top = write(
        dir.path(),
        "requirements.txt",
        "requests\n-r sub/base.txt\n--requirement=sub/other.txt\nflask\n",
    );
    write(
        dir.path(),
        "sub/base.txt",
        "attrs\n-r ../common/shared.txt\n",
    );
    write(dir.path(), "common/shared.txt", "idna\n");
    write(dir.path(), "sub/other.txt", "six\n");
    let input = read(std::slice::from_ref(&top), &[]);
    assert_eq!(
        names(&input.requirements),
        ["requests", "attrs", "idna", "six", "flask"]
    );
    assert_eq!(
        input.requirements[2].file,
        dir.path().join("sub/../common/shared.txt")
    );
    assert_eq!(input.requirements[2].line, 1);
    assert_eq!(input.files.len(), 4);
    assert_eq!(input.files[0], top);
    assert_eq!(input.files[1], dir.path().join("sub/base.txt"));
}

#[test]
fn constraints_and_nested_includes() {
    let dir = tempdir();
    let top = write(
        dir.path(),
        "requirements.txt",
        "requests\n-c constraints.txt\n--constraint other-constraints.txt\n",
    );
    write(dir.path(), "constraints.txt", "urllib3<2\n-r more.txt\n");
    write(dir.path(), "more.txt", "idna==3.7\n");
    write(dir.path(), "other-constraints.txt", "certifi>=2024\n");
    let extra = write(
        dir.path(),
        "extra-constraints.txt",
        "charset-normalizer<4\n",
    );
    let input = read(std::slice::from_ref(&top), std::slice::from_ref(&extra));
    assert_eq!(names(&input.requirements), ["requests"]);
    assert_eq!(
        names(&input.constraints),
        ["urllib3", "idna", "certifi", "charset-normalizer"]
    );
    assert_eq!(input.files.len(), 5);
    assert_eq!(input.files[4], extra);
}

#[test]
fn constraints_cannot_have_extras() {
    let error = match parse_as("\nrequests[socks]<3\n", LineKind::Constraint) {
        Ok(input) => panic!("expected an error, got {input:?}"),
        Err(error) => error,
    };
    assert_message(&error, &format!("{FILE}:2"), &["has extras"]);
}

#[test]
fn a_file_included_twice_without_a_cycle_is_fine() {
    let dir = tempdir();
    let top = write(dir.path(), "requirements.txt", "-r a.txt\n-r b.txt\n");
    write(dir.path(), "a.txt", "-r common.txt\n");
    write(dir.path(), "b.txt", "-r common.txt\n");
    write(dir.path(), "common.txt", "requests\n");
    let input = read(&[top], &[]);
    assert_eq!(names(&input.requirements), ["requests", "requests"]);
    assert_eq!(input.files.len(), 4);
}

#[test]
fn include_cycles_are_errors() {
    let dir = tempdir();
    let a = write(dir.path(), "a.txt", "requests\n-r b.txt\n");
    let b = write(dir.path(), "b.txt", "flask\n\n-r ./a.txt\n");
    let error = read_err(&[a]);
    assert!(matches!(error, RequirementsError::IncludeCycle { .. }));
    assert_message(&error, &format!("{}:3", b.display()), &["a.txt", "cycle"]);

    let selfish = write(dir.path(), "self.txt", "-c self.txt\n");
    let error = read_err(std::slice::from_ref(&selfish));
    assert_message(&error, &format!("{}:1", selfish.display()), &["cycle"]);
}

#[test]
fn parse_str_detects_a_cycle_back_to_its_own_path() {
    let dir = tempdir();
    let path = dir.path().join("requirements.txt");
    write(dir.path(), "inner.txt", "-r requirements.txt\n");
    let mut input = RequirementsInput::default();
    let error =
        parse_str("-r inner.txt\n", &path, LineKind::Requirement, &mut input).expect_err("cycle");
    assert_message(
        &error,
        &format!("{}:1", dir.path().join("inner.txt").display()),
        &["cycle"],
    );
}

#[test]
fn missing_include_names_the_including_file_and_line() {
    let dir = tempdir();
    let top = write(
        dir.path(),
        "requirements.txt",
        "requests\n\n-r nope/missing.txt\n",
    );
    let error = read_err(std::slice::from_ref(&top));
    assert!(matches!(error, RequirementsError::IncludeRead { .. }));
    assert_message(
        &error,
        &format!("{}:3", top.display()),
        &[&dir.path().join("nope/missing.txt").display().to_string()],
    );
}

#[test]
fn missing_top_level_file_is_an_error() {
    let dir = tempdir();
    let missing = dir.path().join("missing.txt");
    let error = read_err(std::slice::from_ref(&missing));
    assert!(matches!(error, RequirementsError::ReadFile { .. }));
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: cannot read", missing.display()))
    );
    let error = read_files(&[], std::slice::from_ref(&missing)).expect_err("missing");
    assert!(matches!(error, RequirementsError::ReadFile { .. }));
}

#[test]
fn remote_includes_are_errors() {
    for line in [
        "-r https://example.com/req.txt",
        "-c http://example.com/c.txt",
    ] {
        let error = parse_err(line);
        assert!(matches!(error, RequirementsError::RemoteInclude { .. }));
        assert_message(&error, &format!("{FILE}:1"), &["download the file"]);
    }
}

#[test]
fn file_url_includes_are_read() {
    let dir = tempdir();
    let inner = write(dir.path(), "inner.txt", "requests\n");
    let top = write(
        dir.path(),
        "requirements.txt",
        &format!("-r {}\n", url::Url::from_file_path(&inner).expect("url")),
    );
    let input = read(&[top], &[]);
    assert_eq!(names(&input.requirements), ["requests"]);
}

#[test]
fn multiple_requirement_files_are_read_in_order() {
    let dir = tempdir();
    let a = write(
        dir.path(),
        "a.txt",
        "requests\n--index-url https://a/simple\n",
    );
    let b = write(dir.path(), "b.txt", "flask\n--index-url https://b/simple\n");
    let input = read(&[a.clone(), b.clone()], &[]);
    assert_eq!(names(&input.requirements), ["requests", "flask"]);
    assert_eq!(input.requirements[1].file, b);
    assert_eq!(input.index_url.as_deref(), Some("https://b/simple"));
    assert_eq!(input.files, [a, b]);
}

// ---- rejected requirement forms ------------------------------------------------------

#[test]
fn editable_installs_of_repositories_are_errors() {
    for line in [
        "--editable=git+https://x/y.git",
        "-e git+https://x/y.git#egg=y",
    ] {
        let error = parse_err(&format!("requests\n{line}\n"));
        assert!(
            matches!(error, RequirementsError::Editable { .. }),
            "{line}"
        );
        assert_message(
            &error,
            &format!("{FILE}:2"),
            &["editable installs cannot go into a layer"],
        );
    }
    for line in ["-e .", "--editable ./mypkg", "-e."] {
        let input = parse(&format!("requests\n{line}\n"));
        assert_eq!(input.local.len(), 1, "{line}");
        assert!(input.local[0].editable, "{line}");
    }
}

#[test]
fn vcs_urls_are_errors() {
    for line in [
        "git+https://github.com/psf/requests.git@v2.32.3#egg=requests",
        "hg+https://hg.example.com/repo",
        "svn+ssh://svn.example.com/repo",
        "bzr+lp:project",
        "git://github.com/psf/requests.git",
        "requests @ git+https://github.com/psf/requests.git@main",
    ] {
        let error = parse_err(line);
        assert!(
            matches!(error, RequirementsError::Vcs { .. }),
            "{line}: {error}"
        );
        assert_message(
            &error,
            &format!("{FILE}:1"),
            &["version-control", "does not clone", "directory"],
        );
    }
}

#[test]
fn local_archives_are_errors() {
    let dir = tempdir();
    write(dir.path(), "dist/mypkg-1.0.tar.gz", "sdist");
    let file = write(
        dir.path(),
        "requirements.txt",
        "dist/mypkg-1.0.tar.gz\nmypkg-1.0.zip\n",
    );
    let content = fs::read_to_string(&file).expect("read");
    for line in content.lines() {
        let mut input = RequirementsInput::default();
        let error = parse_str_with_env(line, &file, LineKind::Requirement, &mut input, &no_env)
            .expect_err(line);
        assert!(
            matches!(error, RequirementsError::LocalSource { .. }),
            "{line}: {error}"
        );
        assert_message(&error, &format!("{}:1", file.display()), &["pip wheel"]);
    }
}

#[test]
fn local_directories_are_local_projects() {
    let dir = tempdir();
    fs::create_dir_all(dir.path().join("mypkg")).expect("mkdir");
    let dir_url = url::Url::from_directory_path(dir.path().join("mypkg")).expect("url");
    let file = write(
        dir.path(),
        "sub/requirements.txt",
        &format!(
            "requests\n./mypkg\n/abs/path/to/project\n{dir_url}\nMy_Pkg[cli] @ {dir_url} ; python_version >= \"3.9\"\n../x\n.\n-e ../editable\n"
        ),
    );
    let input = read(std::slice::from_ref(&file), &[]);
    assert_eq!(names(&input.requirements), ["requests"]);
    let sub = dir.path().join("sub");
    let paths: Vec<PathBuf> = input.local.iter().map(|l| l.path.clone()).collect();
    assert_eq!(
        paths,
        [
            sub.join("./mypkg"),
            PathBuf::from("/abs/path/to/project"),
            dir.path().join("mypkg"),
            dir.path().join("mypkg"),
            sub.join("../x"),
            sub.join("."),
            sub.join("../editable"),
        ]
    );
    let named = &input.local[3];
    assert_eq!(named.name.as_deref(), Some("My_Pkg"));
    assert_eq!(named.extras, "[cli]");
    assert_eq!(named.marker, "python_version >= \"3.9\"");
    assert_eq!(named.location(), format!("{}:5", file.display()));
    assert!(input.local[6].editable && !input.local[0].editable);
    let error = parse_err(&format!("./mypkg --hash=sha256:{}\n", "a".repeat(64)));
    assert!(
        matches!(error, RequirementsError::LocalHash { .. }),
        "{error}"
    );
    assert_message(
        &error,
        &format!("{FILE}:1"),
        &["`./mypkg`", "remove the --hash"],
    );
    // On the command line, relative to the working directory.
    let mut input = RequirementsInput::default();
    add_cli_requirements(&mut input, &["./pkg".to_string(), "-e ../lib".to_string()]).expect("cli");
    assert_eq!(input.local.len(), 2);
    assert_eq!(input.local[0].path, PathBuf::from("./pkg"));
    assert!(input.local[1].editable);
}

#[test]
fn missing_local_wheels_are_errors() {
    let error = parse_err("requests\n./dist/gone-1.0-py3-none-any.whl\n");
    assert!(matches!(error, RequirementsError::MissingWheel { .. }));
    assert_message(
        &error,
        &format!("{FILE}:2"),
        &["/proj/./dist/gone-1.0-py3-none-any.whl"],
    );
    let error = parse_err("gone @ file:///nowhere/gone-1.0-py3-none-any.whl\n");
    assert!(matches!(error, RequirementsError::MissingWheel { .. }));
    assert_message(
        &error,
        &format!("{FILE}:1"),
        &["/nowhere/gone-1.0-py3-none-any.whl"],
    );
}

#[test]
fn sdist_and_other_non_wheel_urls_are_errors() {
    for line in [
        "https://files.example.com/requests-2.32.3.tar.gz",
        "https://files.example.com/requests-2.32.3.zip",
        "requests @ https://files.example.com/requests-2.32.3.tar.gz",
        "https://github.com/psf/requests/archive/main",
    ] {
        let error = parse_err(line);
        assert!(
            matches!(error, RequirementsError::NotAWheel { .. }),
            "{line}: {error}"
        );
        assert_message(
            &error,
            &format!("{FILE}:1"),
            &["not a wheel", "only wheels"],
        );
    }
}

#[test]
fn wheel_url_problems_are_errors() {
    let error = parse_err("flask @ https://example.com/requests-2.32.3-py3-none-any.whl\n");
    assert!(matches!(error, RequirementsError::WheelNameMismatch { .. }));
    assert_message(
        &error,
        &format!("{FILE}:1"),
        &["`flask`", "requests-2.32.3-py3-none-any.whl"],
    );
    let error = parse_err("https://example.com/not-a-valid-wheel.whl\n");
    assert!(matches!(
        error,
        RequirementsError::InvalidWheelFilename { .. }
    ));
    assert_message(&error, &format!("{FILE}:1"), &["not-a-valid-wheel.whl"]);
    let error = parse_err("s3://bucket/requests-2.32.3-py3-none-any.whl\n");
    assert!(matches!(error, RequirementsError::UnsupportedUrl { .. }));
    assert_message(&error, &format!("{FILE}:1"), &["s3://bucket"]);
}

#[test]
fn malformed_requirements_include_the_parser_message() {
    let error = parse_err("requests\n\nflask >>= 3\n");
    assert!(matches!(
        error,
        RequirementsError::InvalidRequirement { .. }
    ));
    assert_message(
        &error,
        &format!("{FILE}:3"),
        &["invalid requirement", "flask >>= 3"],
    );
    let error = parse_err("foo[bar\n");
    assert_message(&error, &format!("{FILE}:1"), &["invalid requirement"]);
    let error = parse_err("flask; python_version <<< '3'\n");
    assert_message(&error, &format!("{FILE}:1"), &["invalid requirement"]);
}

// ---- command line --------------------------------------------------------------------

#[test]
fn cli_requirements_are_added_with_positions() {
    let mut input = parse("attrs\n");
    add_cli_requirements(
        &mut input,
        &[
            "requests".to_string(),
            " ".to_string(),
            "numpy<2; python_version >= '3.9'".to_string(),
        ],
    )
    .expect("parses");
    assert_eq!(names(&input.requirements), ["attrs", "requests", "numpy"]);
    assert_eq!(input.requirements[1].location(), "<command line>:1");
    assert_eq!(input.requirements[2].location(), "<command line>:3");
    assert!(input.requirements[2].hashes.is_empty());
}

#[test]
fn cli_requirement_errors_name_their_position() {
    let mut input = RequirementsInput::default();
    let error = add_cli_requirements(
        &mut input,
        &["requests".to_string(), "numpy<<2".to_string()],
    )
    .expect_err("invalid");
    assert_message(&error, "<command line>:2", &["invalid requirement"]);
    let error = add_cli_requirements(&mut input, &["-e git+https://x/y.git".to_string()])
        .expect_err("editable");
    assert!(matches!(error, RequirementsError::Editable { .. }));
    assert_message(&error, "<command line>:1", &["editable"]);
    let error = add_cli_requirements(&mut input, &["--pre".to_string()]).expect_err("option");
    assert!(matches!(error, RequirementsError::NotARequirement { .. }));
    let error =
        add_cli_requirements(&mut input, &["git+https://x/y.git".to_string()]).expect_err("vcs");
    assert!(matches!(error, RequirementsError::Vcs { .. }));
}

#[test]
fn cli_local_wheel_paths_resolve_against_the_working_directory() {
    let dir = tempdir();
    let wheel = write(dir.path(), "demo-1.0-py3-none-any.whl", "x");
    let mut input = RequirementsInput::default();
    add_cli_requirements(&mut input, &[wheel.display().to_string()]).expect("absolute path");
    assert_eq!(names(&input.requirements), ["demo"]);
}

// ---- helpers -------------------------------------------------------------------------

#[test]
fn helper_behaviour() {
    assert_eq!(strip_comment("a # b"), "a ");
    assert_eq!(strip_comment("a#b"), "a#b");
    assert_eq!(strip_comment("#b"), "");
    assert_eq!(
        split_args_options("foo>=1 --hash=x"),
        ("foo>=1", "--hash=x")
    );
    assert_eq!(split_args_options("--pre"), ("", "--pre"));
    assert_eq!(split_args_options("foo-bar"), ("foo-bar", ""));
    assert_eq!(
        shell_words("-f 'a b' \"c d\" e\\f 'g\\h'"),
        Some(vec![
            "-f".into(),
            "a b".into(),
            "c d".into(),
            "ef".into(),
            "g\\h".into()
        ])
    );
    assert_eq!(shell_words("'x"), None);
    assert_eq!(
        split_url_marker("https://x/y.whl ; a"),
        ("https://x/y.whl", "a")
    );
    assert_eq!(
        split_url_marker("https://x/y;z.whl"),
        ("https://x/y;z.whl", "")
    );
    assert_eq!(percent_decode("a%2Bb%zz"), "a+b%zz");
    assert_eq!(decode(b"\xFE\xFF\x00a"), Some("a".to_string()));
    assert_eq!(decode(b"\xFF\xFEa"), None);
}
