//! The file walker: reads files and includes (with cycle detection), splits logical lines
//! and hands each to the option or requirement parsers.

use super::*;

/// A file and line, for building errors.
pub(super) struct Site<'a> {
    pub(super) file: &'a Path,
    pub(super) line: usize,
}

impl Site<'_> {
    pub(super) fn path(&self) -> PathBuf {
        self.file.to_path_buf()
    }
}

pub(super) struct Parser<'a> {
    pub(super) input: &'a mut RequirementsInput,
    /// Identities of the files being read, outermost first, to detect include cycles.
    pub(super) stack: Vec<PathBuf>,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
}

impl Parser<'_> {
    /// Reads one file from disk; `site` is the `-r`/`-c` line that includes it, if any.
    pub(super) fn read_file(
        &mut self,
        path: &Path,
        kind: LineKind,
        site: Option<&Site<'_>>,
    ) -> Result<(), RequirementsError> {
        let bytes =
            crate::fsutil::read_capped(path, REQUIREMENTS_MAX_BYTES).map_err(
                |error| match site {
                    Some(site) => RequirementsError::IncludeRead {
                        file: site.path(),
                        line: site.line,
                        included: path.to_path_buf(),
                        error,
                    },
                    None => RequirementsError::ReadFile {
                        path: path.to_path_buf(),
                        error,
                    },
                },
            )?;
        let content = decode(&bytes).ok_or_else(|| RequirementsError::Encoding {
            path: path.to_path_buf(),
        })?;
        if !self.input.files.iter().any(|file| file == path) {
            self.input.files.push(path.to_path_buf());
        }
        self.stack.push(identity(path));
        let result = self.parse_content(&content, path, kind);
        self.stack.pop();
        result
    }

    pub(super) fn parse_content(
        &mut self,
        content: &str,
        path: &Path,
        kind: LineKind,
    ) -> Result<(), RequirementsError> {
        let content = content.strip_prefix('\u{feff}').unwrap_or(content);
        for (line, text) in logical_lines(content) {
            let text = expand_env_vars(&text, self.env);
            let site = Site { file: path, line };
            self.parse_line(&text, &site, kind)?;
        }
        Ok(())
    }

    pub(super) fn parse_line(
        &mut self,
        text: &str,
        site: &Site<'_>,
        kind: LineKind,
    ) -> Result<(), RequirementsError> {
        let (args, options) = split_args_options(text);
        let options = parse_options(options, site)?;
        if let Some(editable) = options.iter().find(|o| o.opt == Opt::Editable) {
            let base_dir = site.file.parent().unwrap_or(Path::new(""));
            if let Some(mut local) = local_directory(&editable.value, base_dir, site, true)? {
                if kind == LineKind::Requirement {
                    local.editable = true;
                    self.input.local.push(local);
                }
                return Ok(());
            }
            return Err(RequirementsError::Editable {
                file: site.path(),
                line: site.line,
                target: editable.value.clone(),
            });
        }
        if args.is_empty() {
            for option in &options {
                self.apply_option(option, site, kind)?;
            }
            return Ok(());
        }

        let mut hashes: Vec<String> = Vec::new();
        for option in &options {
            match option.opt {
                Opt::Hash => {
                    let hash = parse_hash(&option.value, site)?;
                    if !hashes.contains(&hash) {
                        hashes.push(hash);
                    }
                }
                opt if opt.is_build_option() => {
                    return Err(RequirementsError::BuildOption {
                        file: site.path(),
                        line: site.line,
                        option: option.spelled.clone(),
                    });
                }
                _ => {
                    return Err(RequirementsError::MisplacedOption {
                        file: site.path(),
                        line: site.line,
                        option: option.spelled.clone(),
                    });
                }
            }
        }
        let base_dir = site.file.parent().unwrap_or(Path::new(""));
        if let Some(local) = local_directory(args, base_dir, site, false)? {
            if !hashes.is_empty() {
                return Err(RequirementsError::LocalHash {
                    file: site.path(),
                    line: site.line,
                    path: args.to_string(),
                });
            }
            // A constraint on a local project constrains nothing pylayer resolves.
            if kind == LineKind::Requirement {
                self.input.local.push(local);
            }
            return Ok(());
        }
        let requirement = parse_requirement(args, base_dir, site)?;
        if kind == LineKind::Constraint && !requirement.extras.is_empty() {
            return Err(RequirementsError::ConstraintExtras {
                file: site.path(),
                line: site.line,
                requirement: args.to_string(),
            });
        }
        let sourced = SourcedRequirement {
            requirement,
            file: site.path(),
            line: site.line,
            hashes,
        };
        match kind {
            LineKind::Requirement => self.input.requirements.push(sourced),
            LineKind::Constraint => self.input.constraints.push(sourced),
        }
        Ok(())
    }

    pub(super) fn apply_option(
        &mut self,
        option: &OptionUse,
        site: &Site<'_>,
        kind: LineKind,
    ) -> Result<(), RequirementsError> {
        let value = option.value.as_str();
        match option.opt {
            Opt::IndexUrl => self.input.index_url = Some(value.to_string()),
            Opt::ExtraIndexUrl => {
                if !self.input.extra_index_urls.iter().any(|url| url == value) {
                    self.input.extra_index_urls.push(value.to_string());
                }
            }
            Opt::FindLinks => {
                let base_dir = site.file.parent().unwrap_or(Path::new(""));
                let location = resolve_find_links(value, base_dir);
                if !self.input.find_links.contains(&location) {
                    self.input.find_links.push(location);
                }
            }
            Opt::NoIndex => self.input.no_index = true,
            Opt::Pre => self.input.pre = true,
            Opt::OnlyBinary => {
                let names = binary_option_values(option, site)?;
                self.input.only_binary.extend(names);
            }
            Opt::NoBinary => {
                let names = binary_option_values(option, site)?;
                self.input.no_binary.extend(names);
            }
            // Accepted for compatibility; they change nothing for pylayer (it always prefers
            // wheels, uses its own TLS settings and always checks hashes in the lock).
            Opt::PreferBinary | Opt::TrustedHost | Opt::RequireHashes | Opt::UseFeature => {}
            Opt::Requirement | Opt::Constraint => {
                let child_kind = if option.opt == Opt::Constraint {
                    LineKind::Constraint
                } else {
                    kind
                };
                let included = resolve_include(value, site)?;
                if self.stack.contains(&identity(&included)) {
                    return Err(RequirementsError::IncludeCycle {
                        file: site.path(),
                        line: site.line,
                        included,
                    });
                }
                self.read_file(&included, child_kind, Some(site))?;
            }
            Opt::Hash => {
                return Err(RequirementsError::HashWithoutRequirement {
                    file: site.path(),
                    line: site.line,
                });
            }
            Opt::Editable => {
                return Err(RequirementsError::Editable {
                    file: site.path(),
                    line: site.line,
                    target: value.to_string(),
                });
            }
            Opt::GlobalOption | Opt::InstallOption | Opt::BuildOption | Opt::ConfigSettings => {
                return Err(RequirementsError::BuildOption {
                    file: site.path(),
                    line: site.line,
                    option: option.spelled.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The values of `--only-binary`/`--no-binary` split on `,`: `:all:`, `:none:` or package
/// names (checked here, so a typo is reported at its line; unknown names are fine, as in pip).
fn binary_option_values(
    option: &OptionUse,
    site: &Site<'_>,
) -> Result<Vec<String>, RequirementsError> {
    let mut out = Vec::new();
    for v in option
        .value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        if v != ":all:" && v != ":none:" && v.parse::<uv_normalize::PackageName>().is_err() {
            return Err(RequirementsError::BinaryOption {
                file: site.path(),
                line: site.line,
                option: option.spelled.clone(),
                value: option.value.clone(),
                name: v.to_string(),
            });
        }
        out.push(v.to_string());
    }
    Ok(out)
}

/// The identity of a file for cycle detection: canonical when it exists.
pub(super) fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}
