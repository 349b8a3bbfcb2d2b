//! Attaching a layer version to functions: replace an older version of the same layer in
//! place (keeping the order of the others) or append it, within Lambda's limits of 5 layers
//! and 262,144,000 unzipped bytes, for a matching runtime and architecture.

use std::time::Duration;

use super::{describe, layer_base};
use crate::domain::{MAX_LAYERS_PER_FUNCTION, MAX_UNZIPPED_BYTES};

/// The outcome for one function.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttachOutcome {
    pub function: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
    /// `updated`, `unchanged`, `would-update`.
    pub action: String,
    /// Function code plus layers, unzipped, when every part could be measured.
    pub unzipped_bytes: Option<u64>,
    pub notes: Vec<String>,
}

/// The new layer list: an older version of the same layer is replaced in place.
pub fn merge_layers(current: &[String], new_arn: &str) -> Vec<String> {
    let base = layer_base(new_arn);
    let mut out: Vec<String> = current.to_vec();
    match out.iter().position(|a| layer_base(a) == base) {
        Some(i) => out[i] = new_arn.to_string(),
        None => out.push(new_arn.to_string()),
    }
    out
}

/// The runtime (`python3.12`) and architecture (`x86_64`) a function runs on: what decides
/// which target's layer version it gets.
pub async fn function_platform(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> Result<(String, String), String> {
    let what = format!("function {function}");
    let conf = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| describe(&e, &what))?;
    let Some(runtime) = conf.runtime() else {
        return Err(format!(
            "{what} has no runtime (a container image function cannot use layers); attach layers only to zip functions"
        ));
    };
    Ok((runtime.as_str().to_string(), architecture_of(&conf)))
}

/// A function's architecture; Lambda leaves it out for x86_64 functions made before arm64.
fn architecture_of(
    conf: &aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput,
) -> String {
    conf.architectures()
        .first()
        .map(|a| a.as_str().to_string())
        .unwrap_or_else(|| "x86_64".into())
}

async fn measure(http: &reqwest::Client, url: Option<&str>) -> Option<u64> {
    let url = url.filter(|u| u.starts_with("http://") || u.starts_with("https://"))?;
    crate::remote_zip::unzipped_size(http, url).await.ok()
}

/// Attaches `layer_arn` to `function`. `own_unzipped` is the layer's unzipped size when its
/// manifest is at hand (saves reading it remotely).
pub async fn attach_one(
    lambda: &aws_sdk_lambda::Client,
    http: &reqwest::Client,
    function: &str,
    layer_arn: &str,
    own_unzipped: Option<u64>,
    dry_run: bool,
) -> Result<AttachOutcome, String> {
    let what = format!("function {function}");
    let conf = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| describe(&e, &what))?;
    let before: Vec<String> = conf
        .layers()
        .iter()
        .filter_map(|l| l.arn().map(str::to_string))
        .collect();
    let after = merge_layers(&before, layer_arn);
    if after.len() > MAX_LAYERS_PER_FUNCTION {
        return Err(format!(
            "{what} already has {} layers; Lambda allows {MAX_LAYERS_PER_FUNCTION}: remove one (or merge them into this layer) first",
            before.len()
        ));
    }
    let layer = super::layer_by_arn(lambda, layer_arn).await?;
    if let Some(runtime) = conf.runtime() {
        let compatible: Vec<&str> = layer
            .compatible_runtimes()
            .iter()
            .map(|r| r.as_str())
            .collect();
        if !compatible.is_empty() && !compatible.contains(&runtime.as_str()) {
            return Err(format!(
                "{what} runs {}, but the layer is built for {}; build it for {} (pylayer build --python {})",
                runtime.as_str(),
                compatible.join(", "),
                runtime.as_str(),
                runtime.as_str().trim_start_matches("python")
            ));
        }
    }
    let function_arch = architecture_of(&conf);
    let layer_archs: Vec<&str> = layer
        .compatible_architectures()
        .iter()
        .map(|a| a.as_str())
        .collect();
    if !layer_archs.is_empty() && !layer_archs.contains(&function_arch.as_str()) {
        return Err(format!(
            "{what} runs on {function_arch}, but the layer is built for {}; build it with --arch {function_arch}",
            layer_archs.join(", ")
        ));
    }
    // The 250 MB limit counts the function's code and every layer, unzipped.
    let mut notes = Vec::new();
    let mut total = Some(0u64);
    let code_location = lambda
        .get_function()
        .function_name(function)
        .send()
        .await
        .ok()
        .and_then(|f| f.code().and_then(|c| c.location()).map(str::to_string));
    match measure(http, code_location.as_deref()).await {
        Some(n) => total = total.map(|t| t + n),
        None => {
            notes.push(
                "the function's code size could not be read; the 250 MB check is partial".into(),
            );
            total = None;
        }
    }
    let mut partial_sum = 0u64;
    for arn in &after {
        let size = if arn == layer_arn && own_unzipped.is_some() {
            own_unzipped
        } else {
            let loc = super::layer_by_arn(lambda, arn)
                .await
                .ok()
                .and_then(|l| l.content().and_then(|c| c.location()).map(str::to_string));
            measure(http, loc.as_deref()).await
        };
        match size {
            Some(n) => {
                partial_sum += n;
                total = total.map(|t| t + n);
            }
            None => {
                notes.push(format!(
                    "the size of {arn} could not be read; the 250 MB check is partial"
                ));
                total = None;
            }
        }
    }
    if total.unwrap_or(partial_sum) > MAX_UNZIPPED_BYTES {
        return Err(format!(
            "{what}: code and layers would be {} bytes unzipped, over Lambda's {MAX_UNZIPPED_BYTES}: rebuild the layer with `pylayer build --slim` (`pylayer inspect ZIP` shows what it removes) or `--exclude NAME` for what the function does not import, or drop a layer from the function",
            total.unwrap_or(partial_sum)
        ));
    }
    if after == before {
        return Ok(AttachOutcome {
            function: function.into(),
            before,
            after,
            action: "unchanged".into(),
            unzipped_bytes: total,
            notes,
        });
    }
    if dry_run {
        return Ok(AttachOutcome {
            function: function.into(),
            before,
            after,
            action: "would-update".into(),
            unzipped_bytes: total,
            notes,
        });
    }
    lambda
        .update_function_configuration()
        .function_name(function)
        .set_layers(Some(after.clone()))
        .send()
        .await
        .map_err(|e| describe(&e, &format!("updating {what}")))?;
    // Wait until Lambda has applied the change.
    for _ in 0..300 {
        let c = lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| describe(&e, &what))?;
        match c.last_update_status().map(|s| s.as_str()) {
            Some("InProgress") => tokio::time::sleep(Duration::from_secs(1)).await,
            Some("Failed") => {
                return Err(format!(
                    "{what}: the update failed: {}",
                    c.last_update_status_reason().unwrap_or("no reason given")
                ));
            }
            _ => break,
        }
    }
    Ok(AttachOutcome {
        function: function.into(),
        before,
        after,
        action: "updated".into(),
        unzipped_bytes: total,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_in_place_or_appends() {
        let a = "arn:aws:lambda:r:1:layer:a:1".to_string();
        let b = "arn:aws:lambda:r:1:layer:b:3".to_string();
        assert_eq!(
            merge_layers(&[a.clone(), b.clone()], "arn:aws:lambda:r:1:layer:a:2"),
            vec!["arn:aws:lambda:r:1:layer:a:2".to_string(), b.clone()]
        );
        assert_eq!(merge_layers(std::slice::from_ref(&a), &b), vec![a, b]);
    }
}
