//! A moto server (`python3 -m moto.server`) on 127.0.0.1 for the AWS tests, and a setup
//! script (tests/aws/moto_setup.py) for what pylayer does not do itself (functions, buckets).

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{describe_output, run};

/// A moto server on 127.0.0.1 started by the test (and killed when dropped).
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    /// moto as it is: a layer version's Content.Location is `s3://`, which nothing reads.
    pub fn start(extra_env: &[(&str, &str)]) -> Moto {
        Moto::launch(false, extra_env)
    }

    /// moto whose GetLayerVersion answers an HTTP Content.Location of the version's bytes,
    /// as Lambda's pre-signed URL is (tests/aws/moto_server.py says how).
    pub fn start_serving_layers() -> Moto {
        Moto::launch(true, &[])
    }

    fn launch(serve_layers: bool, extra_env: &[(&str, &str)]) -> Moto {
        // A port is picked by binding and releasing it, so another test's server can take it
        // in between: a server counts as ours only when our child process holds the socket
        // listening on it; otherwise another port is tried.
        for _attempt in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut cmd = Command::new("python3");
            if serve_layers {
                cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws/moto_server.py"));
            } else {
                cmd.args(["-m", "moto.server"]);
            }
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (k, v) in extra_env {
                cmd.env(k, v);
            }
            let mut child = cmd
                .spawn()
                .expect("moto is installed by scripts/test.sh (pip install 'moto[server]')");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if listens_on(child.id(), port) {
                    return Moto {
                        child,
                        url: format!("http://127.0.0.1:{port}"),
                    };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break; // it could not bind: another process has the port
                }
                assert!(
                    Instant::now() < deadline,
                    "moto did not start on port {port}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("moto could not get a free port in 5 attempts");
    }

    /// Points a command at this server with throwaway credentials and no user AWS config.
    pub fn env(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
    }

    pub fn setup(&self, args: &[&str]) -> serde_json::Value {
        let mut cmd = Command::new("python3");
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws/moto_setup.py"))
            .args(args);
        self.env(&mut cmd);
        let out = run(&mut cmd);
        assert!(
            out.status.success(),
            "setup {args:?}: {}",
            describe_output(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether process `pid` holds the socket listening on 127.0.0.1:`port` (Linux: the socket's
/// inode in /proc/net/tcp among the process's open files).
fn listens_on(pid: u32, port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return TcpStream::connect(("127.0.0.1", port)).is_ok();
    };
    let local = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // local address, state 0A = LISTEN, inode
            (f.len() > 9 && f[1] == local && f[3] == "0A").then(|| f[9].to_string())
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|t| {
                let t = t.to_string_lossy().into_owned();
                inodes.iter().any(|i| t == format!("socket:[{i}]"))
            })
            .unwrap_or(false)
    })
}
