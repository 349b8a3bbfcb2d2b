//! Fitting real layers through the check, with wheels from the public index: debugpy (one
//! wheel with every platform's binaries) builds with warnings only and `--slim` removes the
//! Windows files; pyodbc needs `libodbc.so.2`, which `--include` puts in the layer's lib/.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

use support::{TestEnv, describe_output, run_with_timeout};

fn build(env: &TestEnv, args: &[&str]) -> Output {
    run_with_timeout(
        env.cmd().arg("build").args(args).args(["--out-dir", "out"]),
        std::time::Duration::from_secs(600),
    )
}

fn names(zip: &Path) -> Vec<String> {
    let z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    z.file_names().map(|n| n.unwrap().to_string()).collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn debugpy_windows_binaries_are_warnings_and_slim_removes_them() {
    let env = TestEnv::new();
    // debugpy 1.8.22's only wheel for python3.11 is py2.py3-none-any with Windows, macOS and
    // Linux helpers for attaching to a process.
    let o = build(
        &env,
        &["debugpy==1.8.22", "--python", "3.11", "--name", "dbg"],
    );
    let err = stderr(&o);
    assert!(err.contains("warning[windows-binary]"), "{err}");
    assert!(
        err.contains("which is for Linux: dead weight, never loaded on Lambda"),
        "{err}"
    );
    assert!(!err.contains("error[windows-binary]"), "{err}");
    assert!(!err.contains("error[macos-binary]"), "{err}");
    // Its attach helper for Linux needs glibc 2.34, which python3.11's Amazon Linux 2 lacks
    // (only the debugger's attach-to-process loads it): accepted by glob, still counted.
    let allow = "glibc-too-new:debugpy/_vendored/pydevd/pydevd_attach_to_process/*.so";
    let o = build(
        &env,
        &[
            "debugpy==1.8.22",
            "--python",
            "3.11",
            "--name",
            "dbg",
            "--allow",
            allow,
            "--slim",
        ],
    );
    assert!(o.status.success(), "{}", describe_output(&o));
    let err = stderr(&o);
    assert!(!err.contains("windows-binary"), "{err}");
    assert!(
        err.contains("1 findings allowed by [check] allow / --allow (glibc-too-new 1)"),
        "{err}"
    );
    let zip = env.work_dir().join("out/dbg-py3.11-x86_64.zip");
    let left: Vec<String> = names(&zip)
        .into_iter()
        .filter(|n| {
            let l = n.to_ascii_lowercase();
            l.ends_with(".pyd")
                || l.ends_with(".dll")
                || l.ends_with(".exe")
                || l.ends_with(".dylib")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn pyodbc_with_an_included_libodbc_passes_the_missing_library_check() {
    let env = TestEnv::new();
    let o = build(
        &env,
        &["pyodbc==5.2.0", "--python", "3.12", "--name", "odbc"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", describe_output(&o));
    let err = stderr(&o);
    assert!(err.contains("error[missing-library]"), "{err}");
    assert!(err.contains("needs libodbc.so.2"), "{err}");
    assert!(err.contains("pylayer build --include DIR"), "{err}");

    // A stand-in libodbc.so.2 (the check looks at names on the search path).
    if Command::new("cc").arg("--version").output().is_err() {
        support::missing_tool("no C compiler (cc) to build a stand-in libodbc.so.2");
        return;
    }
    let lib_dir = env.work_dir().join("vendor/lib");
    std::fs::create_dir_all(&lib_dir).unwrap();
    let src = env.work_dir().join("stub.c");
    std::fs::write(&src, "int odbc_stub(void) { return 1; }\n").unwrap();
    let cc = Command::new("cc")
        .args([
            "-shared",
            "-fPIC",
            "-nostdlib",
            "-Wl,-soname,libodbc.so.2",
            "-o",
        ])
        .arg(lib_dir.join("libodbc.so.2"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(cc.status.success(), "{}", describe_output(&cc));
    let o = build(
        &env,
        &[
            "pyodbc==5.2.0",
            "--python",
            "3.12",
            "--name",
            "odbc",
            "--include",
            "vendor",
        ],
    );
    assert!(o.status.success(), "{}", describe_output(&o));
    assert!(!stderr(&o).contains("missing-library"), "{}", stderr(&o));
    let zip = env.work_dir().join("out/odbc-py3.12-x86_64.zip");
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let mut data = Vec::new();
    z.by_name("lib/libodbc.so.2")
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    assert_eq!(data, std::fs::read(lib_dir.join("libodbc.so.2")).unwrap());
}
